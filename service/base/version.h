/*
 * version.h: tidemark's version, which `tidemark --version` and the
 * tidemark_build_info metric print; CMake reads the project version here.
 */
#ifndef TM_VERSION_H
#define TM_VERSION_H

#define TM_VERSION "0.1.0"

#endif
