# Header-only libraries from Debian, found the same way natively and under Emscripten.
# Emscripten's toolchain restricts find_package to its sysroot, and adding /usr/include to a wasm build would
# pull in glibc's headers, so each library's own folder is linked into the build tree and used from there.
function(cortexlens_header_only_dep target header)
  find_path(_dir ${header} PATHS /usr/include /usr/local/include PATH_SUFFIXES eigen3
            NO_CMAKE_FIND_ROOT_PATH NO_DEFAULT_PATH)
  if(NOT _dir)
    message(FATAL_ERROR "${header} not found: run scripts/setup.sh (it installs Debian's packages)")
  endif()
  string(REGEX MATCH "^[^/]+" top "${header}")
  if(top STREQUAL header)  # a header directly in its own folder (e.g. stb/): use that folder
    set(include_dir "${_dir}")
  else()                   # a header under a library folder (nlohmann/json.hpp): link that folder alone
    set(include_dir "${CMAKE_BINARY_DIR}/header_deps/${target}")
    file(MAKE_DIRECTORY "${include_dir}")
    file(CREATE_LINK "${_dir}/${top}" "${include_dir}/${top}" SYMBOLIC)
  endif()
  add_library(${target} INTERFACE)
  target_include_directories(${target} SYSTEM INTERFACE "${include_dir}")
  unset(_dir CACHE)
endfunction()

cortexlens_header_only_dep(dep_json "nlohmann/json.hpp")
cortexlens_header_only_dep(dep_catch2 "catch2/catch.hpp")
# Eigen 3.4 (Debian libeigen3-dev): the regressions of pruning and fitting (analysis/regression.cpp, prune.cpp), never
# in a public header.
cortexlens_header_only_dep(dep_eigen "Eigen/Dense")
