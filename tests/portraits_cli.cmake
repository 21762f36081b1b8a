# `cortexlens portraits` end to end on the committed demo model (packed by `pack` without data) and images this
# test writes:
#   - the demo's manifest entry gets a portrait: two 112x112 PNGs, responses, seeds, steps, natural extremes;
#   - the natural top/bottom lists are exactly `cortexlens screen`'s over the same images (float precision);
#   - each synthesized image's response, measured again by `screen` on its saved PNG, is the one recorded, and the
#     preferred image beats the best natural image (the anti-preferred one is below the worst);
#   - a second run reuses the portrait (nothing made, the same manifest); other settings make it again;
#   - bad arguments and a missing pack are refused with a clear message.
# Run by ctest with -DCORTEXLENS=... -DMAKE_IMAGES=... -DWORK=... -P portraits_cli.cmake
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

function(expect_equal a b what)
  if(NOT "${a}" STREQUAL "${b}")
    message(FATAL_ERROR "${what}: '${a}' differs from '${b}'")
  endif()
endfunction()

# The same number up to the rounding of the 7 significant digits a portrait records (`screen` prints 9); CMake has
# no floating-point arithmetic, awk does.
function(expect_near a b what)
  execute_process(COMMAND awk -v a=${a} -v b=${b}
                  "BEGIN { d = a - b; m = b < 0 ? -b : b; exit !((d < 0 ? -d : d) <= 1e-6 * (m > 1 ? m : 1)) }"
                  RESULT_VARIABLE far)
  if(far)
    message(FATAL_ERROR "${what}: ${a} differs from ${b}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(0 ${MAKE_IMAGES} ${WORK}/images)
# The site's pack without the published data: the demo model only.
run(0 ${CORTEXLENS} pack --out ${WORK}/site/models --data ${WORK}/no-data)
set(portraits ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/site/models -o ${WORK}/site/portraits
    --steps 40 --seeds 2 --top 3 --threads 2)
run(0 ${portraits})
expect_contains("${last_stderr}" "skipped '${WORK}/images/broken.png'" "the broken image is reported")
expect_contains("${last_stdout}" "portraits: 1 models (1 made, 0 up to date)" "the summary")
expect_contains("${last_stdout}" "40 steps, best of 2 seeds; natural images: 18" "the settings")
expect_contains("${last_stdout}" "above the best natural image for 1 of 1" "the preferred image beats nature")
expect_contains("${last_stdout}" "below the worst for 1 of 1" "the anti-preferred image is below nature")

file(READ ${WORK}/site/models/manifest.json manifest)
string(JSON kind GET "${manifest}" models 0 kind)
expect_equal("${kind}" "demo" "the first manifest entry")
string(JSON portrait GET "${manifest}" models 0 portrait)
foreach(field max min maxResponse minResponse maxSeed minSeed steps seeds images)
  string(JSON value GET "${portrait}" ${field})
  set(p_${field} "${value}")
endforeach()
expect_equal("${p_max}" "portraits/demo.max.png" "the preferred image's URL, relative to the site")
expect_equal("${p_min}" "portraits/demo.min.png" "the anti-preferred image's URL")
expect_equal("${p_steps}" "40" "steps")
expect_equal("${p_images}" "18" "natural images with a response")

# The PNGs: 112 x 112 (IHDR width and height, big-endian, at bytes 16..23).
foreach(which max min)
  file(READ ${WORK}/site/portraits/demo.${which}.png header LIMIT 24 HEX)
  string(SUBSTRING "${header}" 32 16 size)
  expect_equal("${size}" "0000007000000070" "demo.${which}.png's size")
endforeach()

# The natural extremes are `screen`'s, in order.
run(0 ${CORTEXLENS} screen ${WORK}/images --models ${WORK}/site/models/demo_dot_detector.f32.clm --precision float
    --top 3 --out ${WORK}/screen.json)
file(READ ${WORK}/screen.json screen)
foreach(list top bottom)
  foreach(rank 0 1 2)
    string(JSON expected GET "${screen}" models 0 outputs 0 ${list} ${rank} image)
    string(JSON expected_response GET "${screen}" models 0 outputs 0 ${list} ${rank} response)
    string(JSON found GET "${portrait}" ${list} ${rank} image)
    string(JSON found_response GET "${portrait}" ${list} ${rank} response)
    expect_equal("${found}" "${expected}" "${list} ${rank}")
    expect_near("${found_response}" "${expected_response}" "${list} ${rank}'s response")
  endforeach()
endforeach()

# The synthesized images' responses, measured again on the saved PNGs; the preferred above every natural image.
run(0 ${CORTEXLENS} screen ${WORK}/site/portraits/demo.max.png ${WORK}/site/portraits/demo.min.png --models
    ${WORK}/site/models/demo_dot_detector.f32.clm --precision float --top 2 --out ${WORK}/synth.json)
file(READ ${WORK}/synth.json synth)
string(JSON high GET "${synth}" models 0 outputs 0 top 0 response)
string(JSON low GET "${synth}" models 0 outputs 0 bottom 0 response)
expect_near("${p_maxResponse}" "${high}" "the preferred image's response, from its PNG")
expect_near("${p_minResponse}" "${low}" "the anti-preferred image's response, from its PNG")
string(JSON best_natural GET "${portrait}" top 0 response)
string(JSON worst_natural GET "${portrait}" bottom 0 response)
if(NOT high GREATER best_natural OR NOT low LESS worst_natural)
  message(FATAL_ERROR "synthesized ${high} / ${low} vs natural ${best_natural} / ${worst_natural}")
endif()

# Up to date: nothing made again, the same manifest and portraits.json.
file(READ ${WORK}/site/portraits/portraits.json list_before)
run(0 ${portraits})
expect_contains("${last_stdout}" "portraits: 1 models (0 made, 1 up to date)" "the second run reuses the portrait")
file(READ ${WORK}/site/models/manifest.json manifest_again)
file(READ ${WORK}/site/portraits/portraits.json list_after)
expect_equal("${manifest_again}" "${manifest}" "the manifest after a second run")
expect_equal("${list_after}" "${list_before}" "portraits.json after a second run")
string(JSON listed_id GET "${list_after}" portraits 0 id)
expect_equal("${listed_id}" "demo" "portraits.json's entry")
# Other settings: made again.
run(0 ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/site/models -o ${WORK}/site/portraits --steps 10
    --seeds 1 --top 3 --threads 1)
expect_contains("${last_stdout}" "portraits: 1 models (1 made, 0 up to date)" "other settings make it again")

# Bad input.
run(2 ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/site/models -o ${WORK}/x --seeds 0)
run(2 ${CORTEXLENS} portraits --models ${WORK}/site/models -o ${WORK}/x)
run(1 ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/nowhere -o ${WORK}/x)
expect_contains("${last_stderr}" "nowhere/manifest.json" "a missing pack is named")
file(WRITE ${WORK}/bad/manifest.json "{\"format\": \"something else\"}")
run(1 ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/bad -o ${WORK}/x)
expect_contains("${last_stderr}" "is not a Cortex Lens manifest" "a foreign JSON file is refused")

# A damaged cache record is made again, not read.
file(WRITE ${WORK}/site/portraits/.cache/demo.json "{\"fingerprint\": 7, \"portrait\": {\"top\": \"x\"}}")
run(0 ${portraits})
expect_contains("${last_stdout}" "portraits: 1 models (1 made, 0 up to date)" "a damaged cache record is made again")
file(WRITE ${WORK}/bad/manifest.json "{\"format\": \"cortexlens-manifest\", \"models\": [{\"kind\": \"neuron\"}]}")
run(1 ${CORTEXLENS} portraits ${WORK}/images --models ${WORK}/bad -o ${WORK}/x)
expect_contains("${last_stderr}" "manifest entry 0 has no id or float file" "an entry without a model file")
