# `cortexlens perturb` end to end on the committed demo model and an image make_screen_images writes:
#   - raising raises and lowering lowers, as printed from the PNG read back, within epsilon of the original;
#   - the same arguments give byte-identical PNGs;
#   - bad arguments give a clear error and exit status.
# Run by ctest with -DCORTEXLENS=... -DMAKE_IMAGES=... -DMODELS_DIR=... -DWORK=... -P perturb_cli.cmake
cmake_minimum_required(VERSION 3.25)

function(run expected_code)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code STREQUAL expected_code)
    message(FATAL_ERROR "exit code ${code}, expected ${expected_code}: ${ARGN}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(last_stdout "${out}" PARENT_SCOPE)
  set(last_stderr "${err}" PARENT_SCOPE)
endfunction()

function(expect_contains text pattern what)
  string(FIND "${text}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected to find '${pattern}' in:\n${text}")
  endif()
endfunction()

# "response before: 1.234 (...)" -> 1.234
function(response_of text which out)
  if(NOT text MATCHES "response ${which}: +(-?[0-9.]+)")
    message(FATAL_ERROR "no 'response ${which}' in:\n${text}")
  endif()
  set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
run(0 ${MAKE_IMAGES} ${WORK}/images)
set(model ${MODELS_DIR}/demo/demo_dot_detector.clm)
set(image ${WORK}/images/dot03.png)

run(0 ${CORTEXLENS} perturb ${model} ${image} --epsilon 4 --steps 40 -o ${WORK}/up.png --csv ${WORK}/up.csv)
set(up_text "${last_stdout}")
response_of("${up_text}" before before)
response_of("${up_text}" after after)
if(NOT after GREATER before)
  message(FATAL_ERROR "raising did not raise: ${before} -> ${after}\n${up_text}")
endif()
if(NOT up_text MATCHES "change: largest ([0-9]+) levels" OR CMAKE_MATCH_1 GREATER 4 OR CMAKE_MATCH_1 LESS 1)
  message(FATAL_ERROR "largest change outside 1..4:\n${up_text}")
endif()
expect_contains("${up_text}" "(raw: no reference distribution)" "the demo model has no manifest beside it")
file(READ ${WORK}/up.csv csv)
expect_contains("${csv}" "model,output,direction,epsilon" "CSV header")
expect_contains("${csv}" "demo_dot_detector,0,raise,4," "CSV row")

run(0 ${CORTEXLENS} perturb ${model} ${image} --epsilon 4 --steps 40 --minimize -o ${WORK}/down.png)
response_of("${last_stdout}" before before_down)
response_of("${last_stdout}" after after_down)
if(NOT after_down LESS before_down)
  message(FATAL_ERROR "lowering did not lower: ${before_down} -> ${after_down}\n${last_stdout}")
endif()

run(0 ${CORTEXLENS} perturb ${model} ${image} --epsilon 4 --steps 40 -o ${WORK}/up-again.png)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/up.png ${WORK}/up-again.png RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "the same perturbation gave two different PNGs")
endif()

run(2 ${CORTEXLENS} perturb ${model} ${image} --epsilon 17 -o ${WORK}/x.png)
expect_contains("${last_stderr}" "--epsilon: expected an integer in 1..16, found '17'" "epsilon range")
run(2 ${CORTEXLENS} perturb ${model} ${image} --penalty 2 -o ${WORK}/x.png)
expect_contains("${last_stderr}" "--penalty needs --keep-others" "penalty alone")
run(1 ${CORTEXLENS} perturb ${model} ${WORK}/images/broken.png -o ${WORK}/x.png)
expect_contains("${last_stderr}" "broken.png" "an image that does not decode")
run(1 ${CORTEXLENS} perturb ${model} ${image} --output 3 -o ${WORK}/x.png)
expect_contains("${last_stderr}" "--output 3 out of range" "output range")
run(1 ${CORTEXLENS} perturb ${model} ${image} --keep-others ${model} --manifest ${WORK}/nothing.json -o ${WORK}/x.png)
expect_contains("${last_stderr}" "is not a readable manifest.json" "missing manifest")
