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

/* Not generated yet: portable-bits mode is not in this build (README, "Testing your
 * device", says how to generate them). */
const uint64_t lp_ref_golden_weights_hash = 0;
const uint64_t lp_ref_golden_losses[LP_REF_GOLDEN_EPOCHS] = {0, 0, 0};
