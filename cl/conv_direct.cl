/* [conv2d] computed from the images themselves ("direct"): no column matrices (im2col)
 * and no col2im, each of which streams kh*kw times the layer's data through memory on
 * every step.
 *
 * Phases. With stride (sh, sw) and padding (pt, pl), the input is first split into its
 * phases: xs[s, (ph*sw + pw)*C + c, u, v] = x[s, c, u*sh + ph - pt, v*sw + pw - pl] (zero
 * outside x), U x V planes with U = oh + ceil(kh/sh) - 1, V = ow + ceil(kw/sw) - 1. Then
 * tap (c, i, j) of output pixel (oy, ox) is xs[phase (i mod sh, j mod sw), channel c,
 * oy + i/sh, ox + j/sw]: every stride and padding becomes a stride-1 valid convolution.
 * A stride-1 unpadded layer is its own split (xs = x, U = ih, V = iw).
 *
 * Grid. An output plane is computed on the phase planes' grid: pixel q = oy*V + ox.
 * Then tap k reads xs[koff[k] + q], koff[k] = plane(k)*U*V + (i/sh)*V + j/sw, and a tile
 * of consecutive q reads consecutive addresses: the product is the register-tiled GEMM
 * of gemm.cl with B read straight from the planes. Grid columns ox >= ow are computed and
 * thrown away. The valid pixels are q < qn = (oh-1)*V + ow; each of their taps stays
 * inside its plane.
 *
 * Backward, the output gradient g (dy, masked by the ReLU) is laid out twice per step:
 *  - z planes: plane (s, f) holds g[s, f, oy, ox] at lead + oy*V + ox, lead = A*V + B
 *    zeros before it (A = ceil(kh/sh) - 1, B = ceil(kw/sw) - 1) and zeros in the grid
 *    columns ox >= ow, which serve as the padding between rows. The gradient of phase
 *    (ph, pw) of xs is then
 *      dxs[s, (ph, pw, c), q] = sum over the phase's taps (f, a, b), a*sh + ph < kh and
 *                               b*sw + pw < kw, of W[f, c, a*sh + ph, b*sw + pw]
 *                               * z[s, f, lead + q - a*V - b]
 *    the same tiled product, one per phase, with koff[(f, a, b)] = f*zlen + lead - a*V - b
 *    (the taps far end first, so that the offsets ascend: walking them downwards ran
 *    30% slower on PoCL), each storing straight into the pixels of dx its phase was
 *    copied from.
 *  - zt, pixel-major: zt[s, q, f] = g at the valid pixels. The kernel gradient
 *      dW[f, (c, i, j)] = sum over s and q < qn of xs[s, plane(k), q + off(i, j)] * g[s, f, q]
 *    is a tiled product with taps of one channel as rows and the filters as vectors.
 *
 * x, y, dy and dx are NCHW; offsets within a sample are ints (the host checks). Tile
 * options (GEMM_*): cl/tile.cl. */

/* xs from x (above), zero where the window leaves x. Global (C*sh*sw, n): one work-item
 * per phase plane. */
__kernel void lp_conv_direct_split(__global const float *x, int n, int C, int ih, int iw, int sh,
                                   int sw, int pt, int pl, int U, int V, __global float *xs) {
    const int pc = (int)get_global_id(0), s = (int)get_global_id(1);
    if (pc >= C * sh * sw || s >= n) return;
    const int phase = pc / C, c = pc - phase * C;
    const int ph = phase / sw, pw = phase - ph * sw;
    const __global float *xp = x + ((size_t)s * C + c) * ih * iw;
    __global float *o = xs + ((size_t)s * C * sh * sw + pc) * U * V;
    for (int u = 0; u < U; ++u) {
        const int y = u * sh + ph - pt;
        __global float *orow = o + u * V;
        if (y < 0 || y >= ih) {
            for (int v = 0; v < V; ++v)
                orow[v] = 0.0f;
            continue;
        }
        const __global float *xrow = xp + y * iw;
        for (int v = 0; v < V; ++v) {
            const int xx = v * sw + pw - pl;
            orow[v] = xx >= 0 && xx < iw ? xrow[xx] : 0.0f;
        }
    }
}

/* lp_conv_direct_split with its rows moved as vectors, for CPUs that run explicit vector
 * loops (lp_runtime_plane_kernels): PoCL vectorizes lp_conv_direct_split across its
 * work-items, a plane each, so every load and store became a gather or scatter across
 * planes. The same floats. Global (C*sh*sw, n), a work-item per phase plane. */
__kernel void lp_conv_direct_split_rows(__global const float *x, int n, int C, int ih, int iw,
                                        int sh, int sw, int pt, int pl, int U, int V,
                                        __global float *xs) {
    const int pc = (int)get_global_id(0), s = (int)get_global_id(1);
    if (pc >= C * sh * sw || s >= n) return;
    const int phase = pc / C, c = pc - phase * C;
    const int ph = phase / sw, pw = phase - ph * sw, x0 = pw - pl;
    /* columns v of x inside the row: 0 <= v*sw + x0 < iw */
    const int v_lo = min(V, x0 >= 0 ? 0 : (-x0 + sw - 1) / sw);
    const int v_hi = max(v_lo, min(V, iw - x0 > 0 ? (iw - x0 + sw - 1) / sw : 0));
    const __global float *xp = x + ((size_t)s * C + c) * ih * iw;
    __global float *o = xs + ((size_t)s * C * sh * sw + pc) * U * V;
    for (int u = 0; u < U; ++u) {
        const int y = u * sh + ph - pt;
        __global float *orow = o + u * V;
        const bool inside = y >= 0 && y < ih;
        const int lo = inside ? v_lo : V, hi = inside ? v_hi : V;
        int v = 0;
        for (; v + 16 <= lo; v += 16)
            vstore16((float16)(0.0f), 0, orow + v);
        for (; v < lo; ++v)
            orow[v] = 0.0f;
        if (inside) {
            const __global float *xrow = xp + y * iw;
            if (sw == 1)
                for (; v + 16 <= hi; v += 16)
                    vstore16(vload16(0, xrow + (v + x0)), 0, orow + v);
            else if (sw == 2) /* the 32 floats read within the row */
                for (; v + 16 <= hi && 2 * v + x0 + 32 <= iw; v += 16)
                    vstore16((float16)(vload16(0, xrow + (2 * v + x0)).even,
                                       vload16(0, xrow + (2 * v + x0 + 16)).even),
                             0, orow + v);
            for (; v < hi; ++v)
                orow[v] = xrow[v * sw + x0];
        }
        for (; v + 16 <= V; v += 16)
            vstore16((float16)(0.0f), 0, orow + v);
        for (; v < V; ++v)
            orow[v] = 0.0f;
    }
}

/* Ap = the forward product's A, the kernel (M = F, K) itself, packed into row panels as
 * lp_gemm_pack_a packs them: panel p holds rows p*MR .. p*MR + MR-1 as (K, MR), rows past
 * M zero. Global (M rounded up to MR, K). */
__kernel void lp_conv_direct_pack(int M, int K, __global const float *W, ulong w_off,
                                  __global float *Ap) {
    const int i = (int)get_global_id(0), k = (int)get_global_id(1);
    const int rows = (M + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    if (i >= rows || k >= K) return;
    const float v = i < M ? W[w_off + (size_t)i * K + k] : 0.0f;
    const int p = i / GEMM_MR, r = i - p * GEMM_MR;
    Ap[((size_t)p * K + k) * GEMM_MR + r] = v;
}

/* Ap = the input gradient's A for phase (ph, pw), packed the same way: row c (M = C),
 * column (f, a, b) (K = F*ta*tb, the phase's taps) holds W[f, c, a*sh + ph, b*sw + pw].
 * Global (M rounded up to MR, K). */
__kernel void lp_conv_direct_pack_dx(int C, int F, int kh, int kw, int sh, int sw, int ph, int pw,
                                     int ta, int tb, __global const float *W, ulong w_off,
                                     __global float *Ap) {
    const int K = F * ta * tb;
    const int i = (int)get_global_id(0), k = (int)get_global_id(1);
    const int rows = (C + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    if (i >= rows || k >= K) return;
    float v = 0.0f;
    if (i < C) {
        /* taps far end first, so that their offsets into z ascend (see upload_taps_) */
        const int f = k / (ta * tb), ab = k - f * ta * tb, ra = ab / tb, rb = ab - ra * tb;
        const int a = ta - 1 - ra, b = tb - 1 - rb;
        v = W[w_off + (((size_t)f * C + i) * kh + a * sh + ph) * kw + b * sw + pw];
    }
    const int p = i / GEMM_MR, r = i - p * GEMM_MR;
    Ap[((size_t)p * K + k) * GEMM_MR + r] = v;
}

/* One tile of lp_conv_direct (below): rows i0 .. i0 + MR-1, the NR pixels from q0 (see
 * there for q0, own and clamp), stored to os (sample s's output). */
inline void direct_tile_(int M, int K, int i0, const __global float *apan, __global const int *koff,
                         const __global float *xs, int q0, int own, bool clamp, int qn, int qsafe,
                         int gw, int8 place, int out_w, __global float *os, int out_plane,
                         __global const float *params, int bias_off, int relu) {
    floatv acc[GEMM_MR][GEMM_NV];
    TILE_ZERO(acc);
    TILE_PRODUCT(acc, apan, 0, K, xs + koff[k], !clamp, qsafe - q0);
    /* The stored lanes by runs within one grid row: each run is evenly spaced in the
     * output plane, so its loop is a plain copy (one division per tile, not per lane). */
    float t[GEMM_MR][GEMM_NR];
#pragma unroll
    for (int r = 0; r < GEMM_MR; ++r)
#pragma unroll
        for (int v = 0; v < GEMM_NV; ++v)
            VSTORE_(acc[r][v], v, t[r]);
    float bias[GEMM_MR];
#pragma unroll
    for (int r = 0; r < GEMM_MR; ++r)
        bias[r] = bias_off >= 0 && i0 + r < M ? params[bias_off + i0 + r] : 0.0f;
    const int rows = min(GEMM_MR, M - i0);
    os += (size_t)i0 * out_plane;
    int l = own - q0, q = own;
    int u = q / gw, v = q - u * gw;
    while (l < GEMM_NR && q < qn) {
        const int run = min(min(GEMM_NR - l, gw - v), qn - q);
        /* lanes e with v + e in [v_lo, v_hi), if row u is in [u_lo, u_hi) */
        const int e0 = max(place.s2 - v, 0), e1 = min(run, place.s3 - v);
        if (u >= place.s0 && u < place.s1 && e0 < e1) {
            __global float *o =
                os + (u * place.s4 + place.s5) * out_w + (v + e0) * place.s6 + place.s7;
            for (int r = 0; r < rows; ++r) {
                const float *tr = t[r] + l + e0;
                __global float *orow = o + (size_t)r * out_plane;
                const int m = e1 - e0, step = place.s6;
                if (step == 1 && relu)
                    for (int e = 0; e < m; ++e)
                        orow[e] = LP_FTZ(fmax(tr[e] + bias[r], 0.0f));
                else if (step == 1)
                    for (int e = 0; e < m; ++e)
                        orow[e] = LP_FTZ(tr[e] + bias[r]);
                else
                    for (int e = 0; e < m; ++e)
                        orow[e * step] =
                            LP_FTZ(relu ? fmax(tr[e] + bias[r], 0.0f) : tr[e] + bias[r]);
            }
        }
        l += run;
        q += run;
        v += run;
        if (v == gw) {
            v = 0;
            ++u;
        }
    }
}

/* out[s, o, y*out_w + x] = act(sum_k A[o, k] * src[s*src_sample + koff[k] + q] + bias[o])
 * for grid pixels q = u*gw + v < qn, placed at y = u*ys + y0, x = v*xs + x0 when u is in
 * [u_lo, u_hi) and v in [v_lo, v_hi), place = (u_lo, u_hi, v_lo, v_hi, ys, y0, xs, x0):
 * forward, (0, oh, 0, ow, 1, 0, 1, 0); the input gradient of phase (ph, pw), the pixels
 * of dx that phase holds. A is packed as above (a_stride = K * MR). Reads of src are safe
 * for q < qsafe (the host knows how far a sample's data reaches). A tile of NR pixels
 * that would read past qsafe is moved back to end there (it recomputes some of its
 * neighbour's pixels, with the same arithmetic, and stores only its own); when even one
 * tile does not fit, the lanes past qsafe read pixel qsafe-1 instead. Tiles start at grid
 * row u_lo (rows above it are not stored). Bias (bias_off >= 0) and ReLU (relu) come from
 * params. Each work-item computes mt row tiles one after the other over the same pixels
 * (on CPUs all of them: the pixels' data stays in the core's cache, and the fixed cost of
 * a work-item is paid once). Global (ceil(M / (MR*mt)), ceil((qn - u_lo*gw) / NR), samples). */
__kernel __attribute__((reqd_work_group_size(GEMM_LX, 1, 1))) void
lp_conv_direct(int M, int K, int mt, __global const float *Ap, ulong a_stride,
               __global const int *koff, __global const float *src, ulong src_sample, int qn,
               int qsafe, int gw, int8 place, int out_w, __global float *out, ulong out_sample,
               int out_plane, __global const float *params, int bias_off, int relu) {
    const int t0 = (int)get_global_id(0) * mt, s = (int)get_global_id(2);
    /* the first pixel this tile stores */
    const int own = place.s0 * gw + (int)get_global_id(1) * GEMM_NR;
    if (t0 * GEMM_MR >= M || own >= qn) return;
    int q0 = own;
    bool clamp = false;
    if (q0 + GEMM_NR > qsafe) {
        if (qsafe >= GEMM_NR)
            q0 = qsafe - GEMM_NR;
        else
            clamp = true; /* then q0 = own */
    }
    const __global float *xs = src + (size_t)s * src_sample + q0;
    __global float *os = out + (size_t)s * out_sample;
    for (int t = t0; t < t0 + mt && t * GEMM_MR < M; ++t)
        direct_tile_(M, K, t * GEMM_MR, Ap + (size_t)t * a_stride, koff, xs, q0, own, clamp, qn,
                     qsafe, gw, place, out_w, os, out_plane, params, bias_off, relu);
}

/* The output gradient's two layouts (above) from dy, g = dy times (y > 0) when relu, at
 * the valid pixels q = oy*gw + ox, every other float of both written as zero (the
 * buffers may be a workspace another layer's layouts used before):
 *   zt[(s*qn + q)*fp + f] = g            pixel-major, for the kernel gradient (and zero
 *                                        in the columns f >= filters up to fp);
 *   z[(s*F + f)*zlen + lead + q] = g     z planes, for the input gradient (with_z; zero
 *                                        before lead and after the last pixel).
 * Global (fp, n): one work-item per plane of dy, or per padding column of zt. (Neighbouring
 * work-items then write neighbouring floats of zt, which PoCL turns into vector stores; a
 * work-item per row of a sample, writing whole lines of zt itself, ran 3x slower there.) */
__kernel void lp_conv_direct_grad_z(__global const float *dy, __global const float *y, int relu,
                                    int n, int filters, int oh, int ow, int gw, int qn, int fp,
                                    __global float *zt, int with_z, int lead, int zlen,
                                    __global float *z) {
    const int f = (int)get_global_id(0), s = (int)get_global_id(1);
    if (f >= fp || s >= n) return;
    const bool real = f < filters;
    const size_t plane = (size_t)s * filters + (real ? f : 0);
    const __global float *d = dy + plane * oh * ow;
    const __global float *yy = y + plane * oh * ow;
    __global float *zts = zt + (size_t)s * qn * fp + f;
    for (int oy = 0; oy < oh; ++oy) {
        const __global float *dr = d + oy * ow, *yr = yy + oy * ow;
        __global float *tr = zts + (size_t)oy * gw * fp;
        int last = oy == oh - 1 ? ow : gw; /* the grid's gap columns, up to qn */
        for (int ox = 0; ox < last; ++ox) {
            float g = 0.0f;
            if (real && ox < ow) {
                g = dr[ox];
                if (relu && !(yr[ox] > 0.0f)) g = 0.0f;
            }
            tr[(size_t)ox * fp] = g;
        }
    }
    if (!with_z || !real) return;
    __global float *zp = z + plane * zlen;
    for (int i = 0; i < lead; ++i)
        zp[i] = 0.0f;
    zp += lead;
    for (int oy = 0; oy < oh; ++oy) {
        const __global float *dr = d + oy * ow, *yr = yy + oy * ow;
        __global float *zr = zp + oy * gw;
        for (int ox = 0; ox < ow; ++ox) {
            float g = dr[ox];
            if (relu && !(yr[ox] > 0.0f)) g = 0.0f;
            zr[ox] = g;
        }
        if (oy < oh - 1)
            for (int ox = ow; ox < gw; ++ox)
                zr[ox] = 0.0f;
    }
    for (int i = qn; i < zlen - lead; ++i)
        zp[i] = 0.0f;
}

/* The kernel gradient's program is built per layer shape: its taps are constants. The
 * taps come phase by phase (offsets ascending within a phase), in passes of at most
 * DW_ROWS taps: pass p is taps DW_PASS_FIRST[p] .. + DW_PASS_ROWS[p] - 1, tap u at offset
 * DW_OFFSETS[u] from its channel's first plane in xs ((i mod sh)*sw + j mod sw)*C*U*V +
 * (i/sh)*V + j/sw), and DW_TAPIDX[u] = i*kw + j. With constant offsets the tile's
 * broadcasts are loads at fixed displacements from one pointer (from offsets held in a
 * buffer, PoCL kept them in vector lanes and extracted each one before its load, as it
 * did for row offsets in the GEMM before A was packed). A pass may span phases (a
 * stream per phase plane): each pass reads zt again, so fewer passes read it less. */
#ifdef DW_TAPS
__constant int dw_offsets_[DW_TAPS] = {DW_OFFSETS};
__constant int dw_tap_[DW_TAPS] = {DW_TAPIDX};
__constant int dw_first_[DW_PASSES] = {DW_PASS_FIRST};
__constant int dw_rows_[DW_PASSES] = {DW_PASS_ROWS};

/* grads[g_off + f*K + c*TAPS + t] = sum over samples s, then pixels q < qn, of
 * xs[s, c's planes, q + offset(t)] * zt[s, q, f]: work-item (c, f0) computes the taps of
 * channel c pass by pass as the tile's rows (against filters f0 .. f0 + NR-1 as its
 * vectors; zt's columns past F are zero). Global (C, fp / NR). The terms taken are those
 * of (s, q) with e0 <= s * qn + q < e1, in that order; with carry the sums start from
 * what grads holds (a previous range's), so a batch cut into ranges, launched in order,
 * gives the bits of one launch over all: the host cuts it on devices that stop long
 * loops (conv_direct.c). */
__kernel __attribute__((reqd_work_group_size(GEMM_LX, 1, 1))) void
lp_conv_direct_dw(int F, int C, int e0, int e1, int carry, __global const float *xs,
                  ulong xs_sample, int plane, __global const float *zt, int fp, int qn,
                  __global float *grads, ulong g_off) {
    const int c = (int)get_global_id(0), f0 = (int)get_global_id(1) * GEMM_NR;
    if (c >= C || f0 >= fp) return;
    const int K = C * DW_TAPS;
#pragma unroll
    for (int p = 0; p < DW_PASSES; ++p) {
        const int t0 = dw_first_[p], rows = dw_rows_[p];
        floatv acc[DW_ROWS][GEMM_NV];
#pragma unroll
        for (int r = 0; r < DW_ROWS; ++r) {
            if (carry && r < rows) {
                float in[GEMM_NR];
                const size_t k = (size_t)c * DW_TAPS + dw_tap_[t0 + r];
                for (int l = 0; l < GEMM_NR; ++l)
                    in[l] = f0 + l < F ? grads[g_off + (size_t)(f0 + l) * K + k] : 0.0f;
#pragma unroll
                for (int v = 0; v < GEMM_NV; ++v)
                    acc[r][v] = VLOAD_(v, in);
            } else {
#pragma unroll
                for (int v = 0; v < GEMM_NV; ++v)
                    acc[r][v] = (floatv)(0.0f);
            }
        }
        for (int s = e0 / qn; s * qn < e1; ++s) {
            const __global float *xa = xs + s * xs_sample + (size_t)c * plane;
            const __global float *zs = zt + (size_t)s * qn * fp + f0;
            const int qa = max(e0 - s * qn, 0), qb = min(e1 - s * qn, qn);
            for (int q = qa; q < qb; ++q) {
                floatv b[GEMM_NV];
#pragma unroll
                for (int v = 0; v < GEMM_NV; ++v)
                    b[v] = VLOAD_(v, zs + (size_t)q * fp);
#pragma unroll
                for (int r = 0; r < DW_ROWS; ++r) {
                    if (r >= rows) break;
                    const floatv a = (floatv)(xa[q + dw_offsets_[t0 + r]]);
#pragma unroll
                    for (int v = 0; v < GEMM_NV; ++v)
                        acc[r][v] = LP_MULADD(a, b[v], acc[r][v]);
                }
            }
        }
#pragma unroll
        for (int r = 0; r < DW_ROWS; ++r) {
            if (r >= rows) break;
            float out[GEMM_NR];
#pragma unroll
            for (int v = 0; v < GEMM_NV; ++v)
                VSTORE_(acc[r][v], v, out);
            const size_t k = (size_t)c * DW_TAPS + dw_tap_[t0 + r];
            for (int l = 0; l < GEMM_NR && f0 + l < F; ++l)
                grads[g_off + (size_t)(f0 + l) * K + k] = LP_FTZ(out[l]);
        }
    }
}
#endif
