/* The roofline's microbenchmark (benchmarks/roofline.py): what one core does at best, measured on
 * data held in registers, so neither memory nor any framework stands in the way.
 *
 * fma_f64: 12 independent chains of vector multiply-adds a = a * m + c on float64, 256-bit vectors
 *   (AVX2's width; 12 chains cover the 4-cycle latency of two FMA pipes and fit the 16 registers).
 *   Each multiply-add counts as 2 floating-point operations.
 * int32_ops: 6 independent chains of the Threefry round's operations on 32-bit integers (add,
 *   rotate by shifts and or, xor: 5 operations per element per round), 256-bit vectors.
 * fma_f64_512, int32_ops_512: the same on 512-bit vectors, where the compiler targets AVX-512
 *   (-march=native on such a core; 32 vector registers). A core whose 512-bit instructions run as
 *   two 256-bit halves (Zen 4) does no more per cycle with them; one with 512-bit pipes (Zen 5,
 *   Intel's server cores) does twice as much, and the roofline takes the faster of the two widths.
 *   Elsewhere they return -1 and are not used.
 * add_chain: one dependent chain of scalar integer additions (latency 1 cycle), 8 per loop
 *   iteration: its rate is the core's clock, against which the other two are read in operations
 *   per cycle.
 */
#include <stdint.h>

#define FMA_CHAINS 12
#define INT_CHAINS 6

/* One pair of kernels per vector width: LANES64 float64 or 2 * LANES64 uint32 lanes per vector. */
#define KERNELS(FMA_NAME, INT_NAME, F64VEC, U32VEC, LANES64)                                     \
double FMA_NAME(int64_t iterations) {                                                          \
    F64VEC a[FMA_CHAINS], m, c;                                                                \
    for (int j = 0; j < (LANES64); j++) { m[j] = 0.9999999; c[j] = 1e-7; }                     \
    for (int k = 0; k < FMA_CHAINS; k++)                                                       \
        for (int j = 0; j < (LANES64); j++) a[k][j] = 1.0 + 1e-3 * (k * (LANES64) + j);        \
    for (int64_t i = 0; i < iterations; i++) {                                                 \
        _Pragma("GCC unroll 12")                                                               \
        for (int k = 0; k < FMA_CHAINS; k++) a[k] = a[k] * m + c;                              \
    }                                                                                          \
    double total = 0.0;                                                                        \
    for (int k = 0; k < FMA_CHAINS; k++)                                                       \
        for (int j = 0; j < (LANES64); j++) total += a[k][j];                                  \
    return total;                                                                              \
}                                                                                              \
                                                                                               \
int64_t INT_NAME(int64_t iterations) {                                                         \
    U32VEC x[INT_CHAINS], y[INT_CHAINS];                                                       \
    for (int k = 0; k < INT_CHAINS; k++)                                                       \
        for (int j = 0; j < 2 * (LANES64); j++) {                                              \
            x[k][j] = k * 2 * (LANES64) + j;                                                   \
            y[k][j] = 0x9E3779B9u * (k + j + 1);                                               \
        }                                                                                      \
    for (int64_t i = 0; i < iterations; i++) {                                                 \
        _Pragma("GCC unroll 6")                                                                \
        for (int k = 0; k < INT_CHAINS; k++) {                                                 \
            x[k] = x[k] + y[k];                                                                \
            y[k] = ((y[k] << 13) | (y[k] >> 19)) ^ x[k];                                       \
        }                                                                                      \
    }                                                                                          \
    uint32_t total = 0;                                                                        \
    for (int k = 0; k < INT_CHAINS; k++)                                                       \
        for (int j = 0; j < 2 * (LANES64); j++) total ^= x[k][j] + y[k][j];                    \
    return total;                                                                              \
}

typedef double f64x4 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
KERNELS(fma_f64, int32_ops, f64x4, u32x8, 4)

#ifdef __AVX512F__
typedef double f64x8 __attribute__((vector_size(64)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
KERNELS(fma_f64_512, int32_ops_512, f64x8, u32x16, 8)
#else
double fma_f64_512(int64_t iterations) { (void)iterations; return -1.0; }
int64_t int32_ops_512(int64_t iterations) { (void)iterations; return -1; }
#endif

int64_t add_chain(int64_t iterations, int64_t step) {
    int64_t x = 0;
    for (int64_t i = 0; i < iterations; i++) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {     /* 8 dependent additions per loop: the branch is free */
            __asm__ volatile("" : "+r"(x));   /* keep the chain: no closed form, no vectorisation */
            x += step;
        }
    }
    return x;
}
