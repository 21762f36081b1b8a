# `cortexlens screen` and `predict` end to end, on images this test writes and the committed demo model:
#   - 1 thread and 2 threads, with different chunk sizes, give byte-identical CSV (and predict byte-identical rows);
#   - a run stopped after some chunks (--stop-after) and resumed gives the same bytes as a clean run (CSV and JSON);
#   - a checkpoint is never silently overwritten, nor resumed into a different run;
#   - folders, zip and tar.gz archives are read; an image that does not decode is reported and skipped.
# Run by ctest with -DCORTEXLENS=... -DMAKE_IMAGES=... -DMODELS_DIR=... -DWORK=... -P screen_cli.cmake
cmake_minimum_required(VERSION 3.25)

function(run expected_code)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code STREQUAL expected_code)
    message(FATAL_ERROR "exit code ${code}, expected ${expected_code}: ${ARGN}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(last_stdout "${out}" PARENT_SCOPE)
  set(last_stderr "${err}" PARENT_SCOPE)
endfunction()

function(expect_same a b)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${a} ${b} RESULT_VARIABLE differ)
  if(differ)
    file(READ ${a} text_a)
    file(READ ${b} text_b)
    message(FATAL_ERROR "${a} and ${b} differ\n--- ${a}\n${text_a}\n--- ${b}\n${text_b}")
  endif()
endfunction()

function(expect_contains text pattern what)
  string(FIND "${text}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected to find '${pattern}' in:\n${text}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(0 ${MAKE_IMAGES} ${WORK}/images)
# Archives of some of the same images, made by CMake's own libarchive.
run(0 ${CMAKE_COMMAND} -E chdir ${WORK}/images ${CMAKE_COMMAND} -E tar cf ${WORK}/more.zip --format=zip
    more/dot12.png more/dot13.png more/dot14.png more/dot15.png more/dot16.png more/dot17.png)
run(0 ${CMAKE_COMMAND} -E chdir ${WORK}/images ${CMAKE_COMMAND} -E tar czf ${WORK}/some.tar.gz
    dot00.png dot01.png dot02.png dot03.png dot04.png dot05.png)

set(models "${MODELS_DIR}/demo/demo_dot_detector.clm,${MODELS_DIR}/demo/demo_dot_detector.keras")
set(images ${WORK}/images ${WORK}/more.zip ${WORK}/some.tar.gz)
set(screen ${CORTEXLENS} screen ${images} --models ${models} --top 3)

# Clean runs: 1 thread, 2 threads, other chunk sizes, stdout.
run(0 ${screen} --threads 1 --chunk 5 --out ${WORK}/one.csv)
expect_contains("${last_stderr}" "skipped '${WORK}/images/broken.png'" "the broken image is reported")
run(0 ${screen} --threads 2 --chunk 3 --out ${WORK}/two.csv)
expect_same(${WORK}/one.csv ${WORK}/two.csv)
run(0 ${screen} --threads 2 --chunk 7)
file(WRITE ${WORK}/stdout.csv "${last_stdout}")
expect_same(${WORK}/one.csv ${WORK}/stdout.csv)
file(READ ${WORK}/one.csv csv)
expect_contains("${csv}" "model,output,kind,rank_or_percentile,image,response\n" "the CSV header")
expect_contains("${csv}" "demo_dot_detector.clm,output0,count,images,,30\n" "30 images decoded")
expect_contains("${csv}" "demo_dot_detector.clm,output0,count,failures,,1\n" "one failure")
expect_contains("${csv}" "# failed: ${WORK}/images/broken.png: " "the failure listed")
expect_contains("${csv}" ",${WORK}/more.zip/more/dot1" "zip members named by archive and member")
expect_contains("${csv}" "demo_dot_detector.clm,output0,quantile,50,," "the median")
if(NOT EXISTS ${WORK}/one.csv OR EXISTS ${WORK}/one.csv.resume)
  message(FATAL_ERROR "a finished run leaves its output and no checkpoint")
endif()

# Stopped after 2 chunks of 4, then resumed with another thread count: the same bytes.
run(1 ${screen} --threads 2 --chunk 4 --stop-after 2 --out ${WORK}/resumed.csv)
expect_contains("${last_stderr}" "stopped after 2 chunks" "the stop is reported")
if(EXISTS ${WORK}/resumed.csv OR NOT EXISTS ${WORK}/resumed.csv.resume)
  message(FATAL_ERROR "a stopped run leaves a checkpoint and no output")
endif()
run(1 ${screen} --threads 2 --chunk 4 --out ${WORK}/resumed.csv)
expect_contains("${last_stderr}" "pass --resume to continue it" "a checkpoint is not overwritten without --resume")
run(1 ${CORTEXLENS} screen ${images} --models ${MODELS_DIR}/demo/demo_dot_detector.clm --resume
    --out ${WORK}/resumed.csv)
expect_contains("${last_stderr}" "is of another run" "a checkpoint of other models is refused")
run(1 ${screen} --threads 1 --chunk 3 --stop-after 3 --resume --out ${WORK}/resumed.csv)
run(0 ${screen} --threads 1 --chunk 4 --resume --out ${WORK}/resumed.csv)
expect_contains("${last_stderr}" "resumed after" "the resume is reported")
expect_same(${WORK}/one.csv ${WORK}/resumed.csv)
if(EXISTS ${WORK}/resumed.csv.resume)
  message(FATAL_ERROR "the checkpoint is removed once the output is written")
endif()

# JSON: the same content, also resumable.
run(0 ${screen} --threads 1 --out ${WORK}/one.json)
run(1 ${screen} --threads 2 --chunk 2 --stop-after 1 --out ${WORK}/resumed.json)
run(0 ${screen} --threads 2 --chunk 5 --resume --out ${WORK}/resumed.json)
expect_same(${WORK}/one.json ${WORK}/resumed.json)
file(READ ${WORK}/one.json json)
expect_contains("${json}" "\"images\": 31," "the image count")
expect_contains("${json}" "\"quantiles\": [{\"percentile\": 0, \"response\": " "the quantiles")

# Usage errors exit with 2.
run(2 ${screen} --resume)
expect_contains("${last_stderr}" "--resume needs --out FILE" "--resume without --out")
run(2 ${CORTEXLENS} screen ${images})
expect_contains("${last_stderr}" "--models DIR|MODEL,... is required" "--models is required")

# predict: 1 and 2 threads print the same bytes.
file(GLOB pngs ${WORK}/images/dot*.png)
list(SORT pngs)
run(0 ${CORTEXLENS} predict ${MODELS_DIR}/demo/demo_dot_detector.clm ${pngs} --threads 1)
set(predict_one "${last_stdout}")
run(0 ${CORTEXLENS} predict ${MODELS_DIR}/demo/demo_dot_detector.clm ${pngs} --threads 2)
if(NOT predict_one STREQUAL last_stdout)
  message(FATAL_ERROR "predict differs between 1 and 2 threads:\n${predict_one}\n---\n${last_stdout}")
endif()
run(0 ${CORTEXLENS} predict ${MODELS_DIR}/demo/demo_dot_detector.keras ${pngs} --threads 1)
set(predict_one "${last_stdout}")
run(0 ${CORTEXLENS} predict ${MODELS_DIR}/demo/demo_dot_detector.keras ${pngs} --threads 2)
if(NOT predict_one STREQUAL last_stdout)
  message(FATAL_ERROR "predict (float) differs between 1 and 2 threads:\n${predict_one}\n---\n${last_stdout}")
endif()
message(STATUS "screen and predict: identical across threads and chunk sizes; stopped + resumed = clean run")
