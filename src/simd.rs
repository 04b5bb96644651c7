//! Runtime-dispatched SIMD for our own hot loops, in safe code.
//!
//! [`dispatched!`] wraps a function in `multiversion`: the same source is compiled once per CPU target below
//! and the first one the CPU supports is picked at run time (detected once, then one indirect call), so a
//! portable build still uses AVX-512 or AVX2 where the machine has them. Only the compiler's choice of
//! instructions changes: Rust never reorders or fuses float operations on its own, so every target computes
//! bit-identical results (the tests of each user compare against fixed references).

/// Compiles the wrapped function for AVX-512 (multiversion adds the rest of the Ice Lake feature set, so older
/// AVX-512 parts, which slow their clocks on 512-bit work, take the AVX2 code), AVX2+FMA and SSE4.1 (which
/// brings rounding instructions and sign-extending loads), beside the build's baseline (SSE2 on x86_64, NEON on
/// aarch64), and dispatches at run time.
macro_rules! dispatched {
    ($item:item) => {
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512bw+avx512vl+avx512vnni",
            "x86_64+avx2+fma",
            "x86_64+sse4.1",
        ))]
        $item
    };
}
pub(crate) use dispatched;
