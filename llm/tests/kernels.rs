//! The patched CPU kernels (`vendor/candle-core`, `vendor/mistralrs-core`) against the computations they
//! replace, on random inputs of the shapes the shipped models use.
//!
//! - Quantized matmul: from 32 rows on, candle's `k_quants::matmul` dequantizes the weights in panels
//!   and runs an f32 GEMM. It must equal the dequantized weights times the input (relative error under
//!   1e-5: the same f32 product, summed in another order), stay within the error the per-row path
//!   already has (that path quantizes the input to 8 bits first: under 2e-2 for every block type), and
//!   below 32 rows the per-row path must be kept, bit for bit.
//! - Prompt attention: mistral.rs's CPU attention for more than one query now runs as chunked matrix
//!   products; it must match the softmax(QK^T)V loop it replaces (written here in f64) within 2e-5.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use mistralrs::core::layers::{Sdpa, SdpaParams};

/// Deterministic standard-normal-ish numbers (xorshift and a sum of uniforms): the tests need no
/// `rand` and fail the same way every time.
struct Noise(u64);

impl Noise {
    fn next_uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.next_uniform()).sum::<f32>() - 2.0
    }

    fn tensor(&mut self, shape: &[usize]) -> Tensor {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| self.normal()).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// ‖a − b‖ / ‖b‖ over all elements.
fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (diff, norm) = a
        .iter()
        .zip(b)
        .fold((0f64, 0f64), |(d, n), (&x, &y)| (d + (x as f64 - y as f64).powi(2), n + (y as f64).powi(2)));
    (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
}

fn check_quantized_matmul(dtype: GgmlDType, (n, k): (usize, usize), rows: &[usize], seed: u64) {
    let mut noise = Noise(seed);
    let weights = QTensor::quantize(&noise.tensor(&[n, k]), dtype).unwrap();
    let dequantized = weights.dequantize(&Device::Cpu).unwrap();
    let matmul = QMatMul::from_qtensor(weights).unwrap();
    for &m in rows {
        let input = noise.tensor(&[m, k]);
        let batched = values(&matmul.forward(&input).unwrap());
        let exact = values(&input.matmul(&dequantized.t().unwrap()).unwrap());
        // Today's per-row computation, one row at a time; at most 40 rows are compared (rows are
        // independent in that path), spread over the whole input.
        let sampled: Vec<usize> = (0..m).step_by(m.div_ceil(40)).collect();
        let mut per_row = Vec::with_capacity(sampled.len() * n);
        let mut batched_rows = Vec::with_capacity(sampled.len() * n);
        for &row in &sampled {
            per_row.extend(values(&matmul.forward(&input.narrow(0, row, 1).unwrap()).unwrap()));
            batched_rows.extend_from_slice(&batched[row * n..(row + 1) * n]);
        }
        let case = format!("{dtype:?} {m}x{k} by {n}x{k}");
        if m < 32 {
            assert_eq!(batched_rows, per_row, "{case}: below 32 rows the per-row path must be kept");
            continue;
        }
        let against_exact = relative_error(&batched, &exact);
        assert!(against_exact < 1e-5, "{case}: {against_exact:e} from the dequantized product");
        let against_per_row = relative_error(&batched_rows, &per_row);
        assert!(against_per_row < 2e-2, "{case}: {against_per_row:e} from the per-row path");
        let sampled_exact: Vec<f32> =
            sampled.iter().flat_map(|&row| exact[row * n..(row + 1) * n].iter().copied()).collect();
        let per_row_error = relative_error(&per_row, &sampled_exact);
        let batched_error = relative_error(&batched_rows, &sampled_exact);
        assert!(
            batched_error <= per_row_error + 1e-6,
            "{case}: the new path ({batched_error:e}) is less exact than the per-row one ({per_row_error:e})"
        );
    }
}

#[test]
fn quantized_matmul_of_a_prompt_equals_the_dequantized_product_for_every_block_type() {
    // Qwen2.5-0.5B: hidden 896, MLP 4864, k/v projections 128 wide; SmolLM2-135M: hidden 576.
    let rows_wide = [1, 16, 31, 32, 33, 600];
    let rows = [31, 32, 200];
    for (i, dtype) in
        [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1, GgmlDType::Q8_0].into_iter().enumerate()
    {
        let seed = 1 + i as u64;
        check_quantized_matmul(dtype, (4864, 896), &rows_wide, seed);
        check_quantized_matmul(dtype, (896, 4864), &rows, seed);
        check_quantized_matmul(dtype, (128, 896), &rows, seed);
        check_quantized_matmul(dtype, (576, 576), &rows, seed);
    }
    // The k-quants need rows divisible by 256 (896 is not, which is why Qwen2.5-0.5B's Q4_K_M falls back
    // to Q5_0 there): its 4864-wide down projection, and Qwen2.5-1.5B's 1536-wide hidden size.
    for (i, dtype) in
        [GgmlDType::Q2K, GgmlDType::Q3K, GgmlDType::Q4K, GgmlDType::Q5K, GgmlDType::Q6K].into_iter().enumerate()
    {
        let seed = 100 + i as u64;
        check_quantized_matmul(dtype, (896, 4864), &[1, 31, 32, 600], seed);
        check_quantized_matmul(dtype, (256, 1536), &rows, seed);
    }
}

/// softmax(scale · QK^T + mask)V per (head, query), in f64: the loop mistral.rs ran before the patch.
/// `q` is (heads, q_len, d), `k` and `v` are (kv_heads, kv_len, d), `mask` is (q_len, kv_len).
fn reference_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &[f32], scale: f32, softcap: Option<f32>) -> Vec<f32> {
    let (heads, q_len, d) = q.dims3().unwrap();
    let (kv_heads, kv_len, _) = k.dims3().unwrap();
    let (q, k, v) = (values(q), values(k), values(v));
    let group = heads / kv_heads;
    let mut out = vec![0f32; heads * q_len * d];
    for h in 0..heads {
        let g = h / group;
        for i in 0..q_len {
            let q_row = &q[(h * q_len + i) * d..][..d];
            let scores: Vec<f64> = (0..kv_len)
                .map(|j| {
                    let k_row = &k[(g * kv_len + j) * d..][..d];
                    let dot: f64 = q_row.iter().zip(k_row).map(|(&a, &b)| a as f64 * b as f64).sum();
                    let mut s = dot * scale as f64;
                    if let Some(cap) = softcap {
                        s = cap as f64 * (s / cap as f64).tanh();
                    }
                    s + mask[i * kv_len + j] as f64
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = weights.iter().sum();
            for (j, w) in weights.iter().enumerate() {
                let v_row = &v[(g * kv_len + j) * d..][..d];
                for (o, &x) in out[(h * q_len + i) * d..][..d].iter_mut().zip(v_row) {
                    *o += (w / sum * x as f64) as f32;
                }
            }
        }
    }
    out
}

/// A causal mask for `q_len` queries that follow `kv_len - q_len` earlier positions.
fn causal_mask(q_len: usize, kv_len: usize) -> Vec<f32> {
    let offset = kv_len - q_len;
    (0..q_len).flat_map(|i| (0..kv_len).map(move |j| if j <= i + offset { 0.0 } else { f32::NEG_INFINITY })).collect()
}

#[test]
fn prompt_attention_as_matrix_products_matches_the_loop_it_replaces() {
    let mut noise = Noise(7);
    // (query heads, kv heads, head dim, query rows, keys, mask as 4 dims, softcap)
    let cases = [
        (14, 2, 64, 2, 2, false, None),        // Qwen2.5-0.5B, shortest prompt
        (14, 2, 64, 33, 33, true, None),       // one chunk, 4-D mask
        (14, 2, 64, 300, 300, false, None),    // several chunks, the last one partial
        (14, 2, 64, 600, 600, true, None),     // a long prompt
        (9, 3, 64, 130, 130, false, None),     // SmolLM2-135M
        (14, 2, 64, 40, 300, false, None),     // a prompt continued after 260 cached positions
        (8, 8, 32, 50, 50, false, Some(30.0)), // no grouping, with a logit soft cap
    ];
    for (heads, kv_heads, d, q_len, kv_len, four_dims, softcap) in cases {
        let q = noise.tensor(&[1, heads, q_len, d]);
        let k = noise.tensor(&[1, kv_heads, kv_len, d]);
        let v = noise.tensor(&[1, kv_heads, kv_len, d]);
        let mask_values = causal_mask(q_len, kv_len);
        let mask_shape: &[usize] = if four_dims { &[1, 1, q_len, kv_len] } else { &[q_len, kv_len] };
        let mask = Tensor::from_vec(mask_values.clone(), mask_shape, &Device::Cpu).unwrap();
        let scale = 1.0 / (d as f32).sqrt();
        let params = SdpaParams {
            n_kv_groups: heads / kv_heads,
            softcap,
            softmax_scale: scale,
            sliding_window: None,
            sinks: None,
        };
        let out = Sdpa.run_attention(&q, &k, &v, Some(&mask), None, &params).unwrap();
        assert_eq!(out.dims(), &[1, heads, q_len, d]);
        let expected = reference_attention(
            &q.squeeze(0).unwrap(),
            &k.squeeze(0).unwrap(),
            &v.squeeze(0).unwrap(),
            &mask_values,
            scale,
            softcap,
        );
        let got = values(&out);
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 2e-5, "{heads} heads over {kv_heads}, {q_len} queries x {kv_len} keys: differs by {worst:e}");
    }
}

/// Decoding (one query, no mask: every cached key is visible) keeps mistral.rs's own loop
/// (`flash_attn_cpu_single_q`): routing it through the matrix products measured no faster (14.0
/// against 14.0-14.7 tokens/s), so it is checked against the same reference instead.
#[test]
fn decoding_attention_matches_the_reference() {
    let mut noise = Noise(11);
    // (query heads, kv heads, head dim, keys)
    for (heads, kv_heads, d, kv_len) in [(14, 2, 64, 1), (14, 2, 64, 193), (14, 2, 64, 900), (9, 3, 64, 130)] {
        let q = noise.tensor(&[1, heads, 1, d]);
        let k = noise.tensor(&[1, kv_heads, kv_len, d]);
        let v = noise.tensor(&[1, kv_heads, kv_len, d]);
        let scale = 1.0 / (d as f32).sqrt();
        let params = SdpaParams {
            n_kv_groups: heads / kv_heads,
            softcap: None,
            softmax_scale: scale,
            sliding_window: None,
            sinks: None,
        };
        let out = Sdpa.run_attention(&q, &k, &v, None, None, &params).unwrap();
        assert_eq!(out.dims(), &[1, heads, 1, d]);
        let expected = reference_attention(
            &q.squeeze(0).unwrap(),
            &k.squeeze(0).unwrap(),
            &v.squeeze(0).unwrap(),
            &causal_mask(1, kv_len),
            scale,
            None,
        );
        let worst = values(&out).iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 2e-5, "{heads} heads over {kv_heads}, 1 query x {kv_len} keys: differs by {worst:e}");
    }
}
