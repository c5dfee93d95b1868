/* Frozen answers the references and `laperm check` compare with (reference.h). */
#include "reference.h"

/* Random123's known-answer tests for philox4x32_10 (kat_vectors). */
const lp_ref_philox_kat lp_ref_philox_kats[LP_REF_PHILOX_KATS] = {
    {{0, 0, 0, 0}, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     0xffffffffffffffffull,
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     0x299f31d0a4093822ull,
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

/* Printed once by tests/test_rng.c and frozen. */
const uint32_t lp_ref_he_uniform_bits[4] = {0x3d8bd6f9, 0x3d8d6cef, 0x3c75bdfb, 0x3d1767c9};
const uint32_t lp_ref_he_normal_bits[4] = {0x3dabddc5, 0x3d294b91, 0x3dbb91c9, 0x3dbf51e9};

/* `laperm check --only golden-run` in portable-bits mode, frozen after PoCL 3.1, Rusticl
 * (Mesa 22.3, llvmpipe) and Oclgrind 21.10 gave these same words (README, "Testing your
 * device", says how to regenerate them when the run itself changes on purpose). */
const uint64_t lp_ref_golden_weights_hash = 0xb42e3a1af28f8634ull;
const uint64_t lp_ref_golden_losses[LP_REF_GOLDEN_EPOCHS] = {
    0x3ffa9b0dc5555555ull, 0x3ffa4c30d0000000ull, 0x3ffa57b500000000ull};
