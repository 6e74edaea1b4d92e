# All third-party code comes from the system (Debian -dev packages, or a prefix unpacked from them on a
# GPU machine, see scripts/gpu-build.sh). Everything is gathered into one interface target.
find_package(Torch REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(spdlog REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)

# cxxopts is header-only; Debian ships a CMake config, a bare prefix may not.
find_package(cxxopts QUIET)
if(NOT TARGET cxxopts::cxxopts)
  find_path(CXXOPTS_INCLUDE_DIR cxxopts.hpp REQUIRED)
  add_library(cxxopts::cxxopts INTERFACE IMPORTED)
  set_target_properties(cxxopts::cxxopts PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CXXOPTS_INCLUDE_DIR})
endif()

# utf8proc (Unicode categories, NFC, case mapping for the CLIP tokenizer); plain find_* so a bare prefix works.
find_path(UTF8PROC_INCLUDE_DIR utf8proc.h)
find_library(UTF8PROC_LIBRARY NAMES utf8proc)
if(NOT UTF8PROC_INCLUDE_DIR OR NOT UTF8PROC_LIBRARY)
  message(FATAL_ERROR "utf8proc not found: install libutf8proc-dev (scripts/setup.sh does); on a GPU machine "
                      "re-run scripts/fetch-debs.sh here so .debs/ holds libutf8proc-dev and libutf8proc2")
endif()
add_library(utf8proc::utf8proc UNKNOWN IMPORTED)
set_target_properties(utf8proc::utf8proc PROPERTIES IMPORTED_LOCATION ${UTF8PROC_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${UTF8PROC_INCLUDE_DIR})

# libwebp (LoadImage reads WebP); plain find_* so a bare prefix works.
find_path(WEBP_INCLUDE_DIR webp/decode.h)
find_library(WEBP_LIBRARY NAMES webp)
if(NOT WEBP_INCLUDE_DIR OR NOT WEBP_LIBRARY)
  message(FATAL_ERROR "libwebp not found: install libwebp-dev (scripts/setup.sh does); on a GPU machine "
                      "re-run scripts/fetch-debs.sh here so .debs/ holds libwebp-dev and libwebp7")
endif()
add_library(webp::webp UNKNOWN IMPORTED)
set_target_properties(webp::webp PROPERTIES IMPORTED_LOCATION ${WEBP_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${WEBP_INCLUDE_DIR})

add_library(comfy_deps INTERFACE)
# libstdc++ first: PyTorch's pip wheels export their own (partial) copies of std::filesystem symbols
# from libtorch.so; listing libstdc++ before libtorch makes the dynamic linker bind to the real ones
# (std::filesystem::remove_all jumped to address 0 otherwise).
# TORCH_LIBRARIES carries the right CXX11 ABI flag and CUDA libs when present.
target_link_libraries(comfy_deps INTERFACE stdc++ ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json spdlog::spdlog
                      cxxopts::cxxopts utf8proc::utf8proc PNG::PNG JPEG::JPEG webp::webp ZLIB::ZLIB Threads::Threads)
target_compile_options(comfy_deps INTERFACE ${TORCH_CXX_FLAGS})
if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND OR TARGET torch_cuda)
  target_compile_definitions(comfy_deps INTERFACE COMFY_WITH_CUDA=1)
endif()
# libtorch >= 2.0 has scaled_dot_product_attention
if(Torch_VERSION VERSION_GREATER_EQUAL 2.0 OR TORCH_VERSION VERSION_GREATER_EQUAL 2.0)
  target_compile_definitions(comfy_deps INTERFACE COMFY_HAVE_SDPA=1)
endif()
