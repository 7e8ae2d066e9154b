;; easel's element-wise float kernels: the per-step arithmetic of the denoising loop (guidance, the
;; schedulers' linear combinations and Euler steps, the UNet input's scaling) and the decoded
;; picture's conversion to bytes, in WebAssembly SIMD; and, last, the Philox rounds of the seeded
;; noise (exact 32 x 32-bit products, four blocks at a time).
;;
;; Each kernel gives exactly the bits of the JavaScript loop it replaces: JavaScript computes an
;; expression in float64 and rounds it once when it stores into a Float32Array, so these kernels
;; widen float32 lanes to float64, apply the same operations in the same order, and narrow once where
;; JavaScript stores (or calls Math.fround). test/engine/kernels.test.ts compares every kernel
;; with its JavaScript loop bit for bit.
;;
;; The shape of every loop: load four float32 values (v128), widen lanes 0-1 and lanes 2-3 to two
;; f64x2 values, compute on each, narrow both and store four float32 values:
;;   low pair:   f64x2.promote_low_f32x4 v
;;   high pair:  f64x2.promote_low_f32x4 (i8x16.shuffle 8..15 8..15 v v)
;;   narrow:     i8x16.shuffle 0..7 16..23 (f32x4.demote_f64x2_zero lo) (f32x4.demote_f64x2_zero hi)
;;   fround:     f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero x)
;; written out in each loop, because V8 does not inline calls between WebAssembly functions.
;;
;; Addresses are byte offsets into the exported memory, 16-byte aligned; `n` counts float32 values.
;; Every float loop works four values at a time and may read and write up to three values past `n`:
;; the caller (kernels.ts) pads each region to a multiple of four.
;;
;; Rebuild kernels.wasm after an edit: npm run build:kernels
(module
  (memory (export "memory") 1)

  ;; out = 0 + c[0] * x[0] + c[1] * x[1] + ... over k terms, summed in float64 in term order.
  ;; The terms are a table at $terms, 16 bytes each: the coefficient (f64), then the address (i32).
  (func (export "combine") (param $out i32) (param $terms i32) (param $k i32) (param $n i32)
    (local $i i32) (local $end i32) (local $t i32) (local $tEnd i32)
    (local $lo v128) (local $hi v128) (local $c v128) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $tEnd (i32.add (local.get $terms) (i32.shl (local.get $k) (i32.const 4))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $lo (f64x2.splat (f64.const 0)))
        (local.set $hi (f64x2.splat (f64.const 0)))
        (local.set $t (local.get $terms))
        (block $termsDone
          (loop $term
            (br_if $termsDone (i32.ge_u (local.get $t) (local.get $tEnd)))
            (local.set $c (f64x2.splat (f64.load (local.get $t))))
            (local.set $v (v128.load (i32.add (i32.load offset=8 (local.get $t)) (local.get $i))))
            (local.set $lo (f64x2.add (local.get $lo)
              (f64x2.mul (local.get $c) (f64x2.promote_low_f32x4 (local.get $v)))))
            (local.set $hi (f64x2.add (local.get $hi)
              (f64x2.mul (local.get $c) (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))))
            (local.set $t (i32.add (local.get $t) (i32.const 16)))
            (br $term)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; combine for two terms, the common case (an Euler step, a noise blend), without the table's loop:
  ;; out = 0 + c0 * x0 + c1 * x1.
  (func (export "combine2") (param $out i32) (param $c0 f64) (param $x0 i32) (param $c1 f64) (param $x1 i32) (param $n i32)
    (local $i i32) (local $end i32) (local $k0 v128) (local $k1 v128) (local $a v128) (local $b v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $k0 (f64x2.splat (local.get $c0)))
    (local.set $k1 (f64x2.splat (local.get $c1)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $a (v128.load (i32.add (local.get $x0) (local.get $i))))
        (local.set $b (v128.load (i32.add (local.get $x1) (local.get $i))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $k0) (f64x2.promote_low_f32x4 (local.get $a))))
                (f64x2.mul (local.get $k1) (f64x2.promote_low_f32x4 (local.get $b)))))
            (f32x4.demote_f64x2_zero
              (f64x2.add
                (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $k0) (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a) (local.get $a)))))
                (f64x2.mul (local.get $k1) (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $b) (local.get $b))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; out = s * x
  (func (export "scale") (param $out i32) (param $x i32) (param $s f64) (param $n i32)
    (local $i i32) (local $end i32) (local $vs v128) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vs (f64x2.splat (local.get $s)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.mul (local.get $vs) (f64x2.promote_low_f32x4 (local.get $v))))
            (f32x4.demote_f64x2_zero
              (f64x2.mul (local.get $vs) (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; Classifier-free guidance: out = u + s * (c - u)
  (func (export "guide") (param $out i32) (param $u i32) (param $c i32) (param $s f64) (param $n i32)
    (local $i i32) (local $end i32) (local $vs v128) (local $t v128)
    (local $ul v128) (local $uh v128) (local $cl v128) (local $ch v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vs (f64x2.splat (local.get $s)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $t (v128.load (i32.add (local.get $u) (local.get $i))))
        (local.set $ul (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $uh (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))
        (local.set $t (v128.load (i32.add (local.get $c) (local.get $i))))
        (local.set $cl (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $ch (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $ul) (f64x2.mul (local.get $vs) (f64x2.sub (local.get $cl) (local.get $ul)))))
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $uh) (f64x2.mul (local.get $vs) (f64x2.sub (local.get $ch) (local.get $uh)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; The Euler step from x0: out = x + fround((x - x0) / sigma) * dt
  (func (export "eulerStep") (param $out i32) (param $x i32) (param $x0 i32) (param $sigma f64) (param $dt f64) (param $n i32)
    (local $i i32) (local $end i32) (local $vsigma v128) (local $vdt v128) (local $t v128)
    (local $xl v128) (local $xh v128) (local $x0l v128) (local $x0h v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vsigma (f64x2.splat (local.get $sigma)))
    (local.set $vdt (f64x2.splat (local.get $dt)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $t (v128.load (i32.add (local.get $x) (local.get $i))))
        (local.set $xl (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $xh (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))
        (local.set $t (v128.load (i32.add (local.get $x0) (local.get $i))))
        (local.set $x0l (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $x0h (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $xl) (f64x2.mul (local.get $vdt)
                (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
                  (f64x2.div (f64x2.sub (local.get $xl) (local.get $x0l)) (local.get $vsigma)))))))
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $xh) (f64x2.mul (local.get $vdt)
                (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
                  (f64x2.div (f64x2.sub (local.get $xh) (local.get $x0h)) (local.get $vsigma)))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; The Euler step from a model output: x0 = fround(a * x + b * output), kept in float64, and
  ;; next = x + fround((x - x0) / sigma) * dt, in one pass.
  (func (export "eulerFromOutput")
    (param $next i32) (param $x i32) (param $output i32)
    (param $a f64) (param $b f64) (param $sigma f64) (param $dt f64) (param $n i32)
    (local $i i32) (local $end i32) (local $va v128) (local $vb v128) (local $vsigma v128) (local $vdt v128)
    (local $t v128) (local $xl v128) (local $xh v128) (local $x0l v128) (local $x0h v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $va (f64x2.splat (local.get $a)))
    (local.set $vb (f64x2.splat (local.get $b)))
    (local.set $vsigma (f64x2.splat (local.get $sigma)))
    (local.set $vdt (f64x2.splat (local.get $dt)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $t (v128.load (i32.add (local.get $x) (local.get $i))))
        (local.set $xl (f64x2.promote_low_f32x4 (local.get $t)))
        (local.set $xh (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))
        (local.set $t (v128.load (i32.add (local.get $output) (local.get $i))))
        (local.set $x0l (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
          (f64x2.add (f64x2.mul (local.get $va) (local.get $xl))
                     (f64x2.mul (local.get $vb) (f64x2.promote_low_f32x4 (local.get $t)))))))
        (local.set $x0h (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
          (f64x2.add (f64x2.mul (local.get $va) (local.get $xh))
                     (f64x2.mul (local.get $vb) (f64x2.promote_low_f32x4
                       (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t))))))))
        (v128.store (i32.add (local.get $next) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $xl) (f64x2.mul (local.get $vdt)
                (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
                  (f64x2.div (f64x2.sub (local.get $xl) (local.get $x0l)) (local.get $vsigma)))))))
            (f32x4.demote_f64x2_zero
              (f64x2.add (local.get $xh) (f64x2.mul (local.get $vdt)
                (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
                  (f64x2.div (f64x2.sub (local.get $xh) (local.get $x0h)) (local.get $vsigma)))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; The stochastic flow step: x0 = fround(x - sigma * v), kept in float64, and
  ;; next = keep * x0 + sigmaNext * noise.
  (func (export "flowEulerNoise")
    (param $next i32) (param $x i32) (param $v i32) (param $noise i32)
    (param $sigma f64) (param $keep f64) (param $sigmaNext f64) (param $n i32)
    (local $i i32) (local $end i32) (local $vsigma v128) (local $vkeep v128) (local $vnext v128)
    (local $tx v128) (local $tv v128) (local $tn v128) (local $x0l v128) (local $x0h v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vsigma (f64x2.splat (local.get $sigma)))
    (local.set $vkeep (f64x2.splat (local.get $keep)))
    (local.set $vnext (f64x2.splat (local.get $sigmaNext)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $tx (v128.load (i32.add (local.get $x) (local.get $i))))
        (local.set $tv (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $tn (v128.load (i32.add (local.get $noise) (local.get $i))))
        (local.set $x0l (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
          (f64x2.sub (f64x2.promote_low_f32x4 (local.get $tx))
                     (f64x2.mul (local.get $vsigma) (f64x2.promote_low_f32x4 (local.get $tv)))))))
        (local.set $x0h (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
          (f64x2.sub (f64x2.promote_low_f32x4
                       (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $tx) (local.get $tx)))
                     (f64x2.mul (local.get $vsigma) (f64x2.promote_low_f32x4
                       (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $tv) (local.get $tv))))))))
        (v128.store (i32.add (local.get $next) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero
              (f64x2.add (f64x2.mul (local.get $vkeep) (local.get $x0l))
                         (f64x2.mul (local.get $vnext) (f64x2.promote_low_f32x4 (local.get $tn)))))
            (f32x4.demote_f64x2_zero
              (f64x2.add (f64x2.mul (local.get $vkeep) (local.get $x0h))
                         (f64x2.mul (local.get $vnext) (f64x2.promote_low_f32x4
                           (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $tn) (local.get $tn))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

  ;; Three planes of `n` values in [-1, 1] (red, green, blue) as interleaved RGB bytes at $out. Each
  ;; byte is trunc(min(max(x * 127.5 + 128, 0), 255)) with NaN as 128: for x * 127.5 + 128 in
  ;; [1, 256) that is Math.round((x + 1) * 127.5), as image-io.ts documents. Four pixels a round:
  ;; twelve bytes gathered by two shuffles into one store, whose last four bytes the next round
  ;; writes over (the caller leaves room for them after the last pixel).
  (func (export "planarToRgb") (param $out i32) (param $rp i32) (param $gp i32) (param $bp i32) (param $n i32)
    (local $i i32) (local $end i32) (local $o i32) (local $t v128) (local $lo v128) (local $hi v128)
    (local $k127 v128) (local $k128 v128) (local $r v128) (local $g v128) (local $b v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $o (local.get $out))
    (local.set $k127 (f64x2.splat (f64.const 127.5)))
    (local.set $k128 (f64x2.splat (f64.const 128)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        ;; r: four values as bytes in the low eight bits of four i32 lanes.
        (local.set $t (v128.load (i32.add (local.get $rp) (local.get $i))))
        (local.set $lo (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $t)) (local.get $k127))
                                  (local.get $k128)))
        (local.set $hi (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
                                    (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t)))
                                  (local.get $k127))
                                  (local.get $k128)))
        (local.set $r (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $lo)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $lo) (local.get $lo))))
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $hi)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $hi) (local.get $hi))))))
        ;; g: four values as bytes in the low eight bits of four i32 lanes.
        (local.set $t (v128.load (i32.add (local.get $gp) (local.get $i))))
        (local.set $lo (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $t)) (local.get $k127))
                                  (local.get $k128)))
        (local.set $hi (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
                                    (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t)))
                                  (local.get $k127))
                                  (local.get $k128)))
        (local.set $g (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $lo)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $lo) (local.get $lo))))
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $hi)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $hi) (local.get $hi))))))
        ;; b: four values as bytes in the low eight bits of four i32 lanes.
        (local.set $t (v128.load (i32.add (local.get $bp) (local.get $i))))
        (local.set $lo (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $t)) (local.get $k127))
                                  (local.get $k128)))
        (local.set $hi (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
                                    (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t)))
                                  (local.get $k127))
                                  (local.get $k128)))
        (local.set $b (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $lo)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $lo) (local.get $lo))))
            (i32x4.trunc_sat_f64x2_s_zero
              (v128.bitselect
                (f64x2.pmin (f64x2.splat (f64.const 255)) (f64x2.pmax (f64x2.splat (f64.const 0)) (local.get $hi)))
                (f64x2.splat (f64.const 128))
                (f64x2.eq (local.get $hi) (local.get $hi))))))
        ;; r0 g0 . r1 g1 . r2 g2 . r3 g3 . from the red and green lanes' low bytes, then blue into the gaps.
        (v128.store (local.get $o)
          (i8x16.shuffle 0 1 16 3 4 20 6 7 24 9 10 28 12 13 14 15
            (i8x16.shuffle 0 16 0 4 20 0 8 24 0 12 28 0 0 0 0 0 (local.get $r) (local.get $g))
            (local.get $b)))
        (local.set $o (i32.add (local.get $o) (i32.const 12)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each))))

;; Philox4x32-10 (seeded-noise.ts): the four words of `blocks` consecutive counters
  ;; (first + j, 0, stream, 0x65617365) under the key (k0, k1), 16 bytes per block at $out. Four
  ;; blocks at a time, one per i32x4 lane: a round's 32 x 32-bit products are exact 64-bit ones
  ;; (i64x2.extmul of the lanes' words), split into their low and high words. May write up to three
  ;; blocks past `blocks` (their counters wrap; the caller's region has room and ignores them).
  (func (export "philox") (param $out i32) (param $first i32) (param $blocks i32) (param $stream i32)
    (param $k0 i32) (param $k1 i32)
    (local $j i32) (local $round i32) (local $o i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $key0 v128) (local $key1 v128)
    (local $p v128) (local $q v128) (local $lo0 v128) (local $hi0 v128) (local $lo1 v128) (local $hi1 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $o (local.get $out))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $blocks)))
        (local.set $c0 (i32x4.add (i32x4.splat (i32.add (local.get $first) (local.get $j)))
                                  (v128.const i32x4 0 1 2 3)))
        (local.set $c1 (v128.const i32x4 0 0 0 0))
        (local.set $c2 (i32x4.splat (local.get $stream)))
        (local.set $c3 (i32x4.splat (i32.const 0x65617365)))
        (local.set $key0 (i32x4.splat (local.get $k0)))
        (local.set $key1 (i32x4.splat (local.get $k1)))
        (local.set $round (i32.const 0))
        (loop $rounds
          ;; c0 * M0 and c2 * M1: lanes 0-1 and 2-3 as 64-bit products, then their low and high words.
          (local.set $p (i64x2.extmul_low_i32x4_u (local.get $c0) (v128.const i32x4 0xd2511f53 0xd2511f53 0xd2511f53 0xd2511f53)))
          (local.set $q (i64x2.extmul_high_i32x4_u (local.get $c0) (v128.const i32x4 0xd2511f53 0xd2511f53 0xd2511f53 0xd2511f53)))
          (local.set $lo0 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $p) (local.get $q)))
          (local.set $hi0 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $p) (local.get $q)))
          (local.set $p (i64x2.extmul_low_i32x4_u (local.get $c2) (v128.const i32x4 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57)))
          (local.set $q (i64x2.extmul_high_i32x4_u (local.get $c2) (v128.const i32x4 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57)))
          (local.set $lo1 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $p) (local.get $q)))
          (local.set $hi1 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $p) (local.get $q)))
          (local.set $c0 (v128.xor (v128.xor (local.get $hi1) (local.get $c1)) (local.get $key0)))
          (local.set $c1 (local.get $lo1))
          (local.set $c2 (v128.xor (v128.xor (local.get $hi0) (local.get $c3)) (local.get $key1)))
          (local.set $c3 (local.get $lo0))
          (local.set $key0 (i32x4.add (local.get $key0) (v128.const i32x4 0x9e3779b9 0x9e3779b9 0x9e3779b9 0x9e3779b9)))
          (local.set $key1 (i32x4.add (local.get $key1) (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85)))
          (local.set $round (i32.add (local.get $round) (i32.const 1)))
          (br_if $rounds (i32.lt_u (local.get $round) (i32.const 10))))
        ;; Lane b of c0..c3 holds block b's words: transposed, each block's four words in order.
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c0) (local.get $c1)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c0) (local.get $c1)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c2) (local.get $c3)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c2) (local.get $c3)))
        (v128.store offset=0 (local.get $o)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store offset=16 (local.get $o)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store offset=32 (local.get $o)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store offset=48 (local.get $o)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $each))))
)
