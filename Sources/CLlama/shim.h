// llama.cpp's C API (the version pinned by LLAMA_VERSION in the Makefile). No C++ crosses into Swift.
#ifndef HIVE_CLLAMA_SHIM_H
#define HIVE_CLLAMA_SHIM_H
#include <llama.h>
#include <ggml-cpu.h>
#endif
