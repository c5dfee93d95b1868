/* laperm's one public header: everything a program needs to load a model and data, pick
 * an OpenCL device, train (LaPerm or a plain optimizer), evaluate and read the results
 * file. Link with `pkg-config --cflags --libs laperm` or CMake's laperm::laperm (README,
 * "Install"). The lower-level headers (ops.h, gemm.h, segsort.h, launch.h, ...) stay
 * available one by one for programs that run laperm's kernels themselves. */
#ifndef LAPERM_LAPERM_H
#define LAPERM_LAPERM_H

#include "laperm/clock.h"
#include "laperm/data.h"
#include "laperm/evaluate.h"
#include "laperm/init.h"
#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/predictions.h"
#include "laperm/results.h"
#include "laperm/runtime.h"
#include "laperm/schedule.h"
#include "laperm/status.h"
#include "laperm/train.h"
#include "laperm/weights.h"

#endif
