# Every dependency comes from Debian packages (scripts/install-deps.sh installs them).
# ophtha::deps is the one interface target the library links.
find_package(Torch REQUIRED)           # libtorch-dev (1.13 CPU) or a LibTorch 2.x via CMAKE_PREFIX_PATH
find_package(fmt REQUIRED)             # libfmt-dev
find_package(nlohmann_json 3 REQUIRED) # nlohmann-json3-dev
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
# SentencePiece (the tokenizer reference) is used from /usr/bin/python3 (python3-sentencepiece):
# libsentencepiece and LibTorch load conflicting protobuf registrations into one process.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)  # libeigen3-dev
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)   # libstb-dev
find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h REQUIRED)           # doctest-dev

add_library(ophtha_deps INTERFACE)
add_library(ophtha::deps ALIAS ophtha_deps)
target_link_libraries(ophtha_deps INTERFACE
  ${TORCH_LIBRARIES} fmt::fmt nlohmann_json::nlohmann_json Eigen3::Eigen Threads::Threads ${CMAKE_DL_LIBS})
target_include_directories(ophtha_deps SYSTEM INTERFACE ${STB_INCLUDE_DIR} ${TORCH_INCLUDE_DIRS})

function(ophtha_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()
