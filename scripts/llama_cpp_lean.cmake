# Included by CMake right after llama.cpp's own project() call (CMAKE_PROJECT_llama.cpp_INCLUDE, set by
# scripts/install.sh). llama-cpp-python forces llama.cpp's "common" library on (argument parsing, chat-template
# engines, model downloads over HTTP with cpp-httplib) but loads only libllama and libggml*: skipping it leaves
# the Python package whole and saves a third of the compile. A normal variable here shadows the forced cache
# entry in llama.cpp's directory, so `option(LLAMA_BUILD_COMMON ...)` and every `if (LLAMA_BUILD_COMMON)` see OFF.
set(LLAMA_BUILD_COMMON OFF)
