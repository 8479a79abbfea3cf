package graph

import (
	"math"

	"github.com/contrastive-go/contrastive/graph/vmath"
)

// Float32 paths of the fused kernels that evaluate e^x or log over a whole
// B×C pass: the arguments of a row (or block) are laid out in a buffer and
// go through package vmath eight lanes at a time, instead of one call per
// entry. They compute what the generic kernels compute in float32, with
// the same masks, shifts and fallbacks.

// as32 returns s as a []float32 when T is float32.
func as32[T float](s []T) ([]float32, bool) {
	v, ok := any(s).([]float32)
	return v, ok
}

// lseRows32 is maskedRowFwd for redLSE and redLog1pSE.
func lseRows32(kind rowRed, aff rowAffine, b, c int, x, m, out []float32) {
	parallelRows(b, c, func(lo, hi int) {
		tmp := make([]float32, c)
		var tx []float32
		if aff.on {
			tx = make([]float32, c)
		}
		for i := lo; i < hi; i++ {
			xr, mr := affineRow(aff, x[i*c:(i+1)*c], tx), m[i*c:(i+1)*c]
			if kind == redLSE && c > 0 {
				// Shifted by the row's maximum over every column (no mask
				// read): exact unless the masked sum is so small that its
				// terms lose precision (or the row is empty or not finite);
				// then by the masked maximum below.
				mx := maxOf(xr)
				vmath.ExpShift(tmp, xr, mx)
				if s := maskedSum32(tmp, mr); s >= lseShiftMin && s <= math.MaxFloat64 {
					out[i] = float32(float64(mx) + math.Log(s))
					continue
				}
			}
			k := extremeAt(xr, mr, true)
			var mx float32
			if k >= 0 {
				mx = xr[k]
			}
			if kind == redLog1pSE && mx < 0 {
				mx = 0
			}
			vmath.ExpShift(tmp, xr, mx)
			var s float64
			for j, w := range mr {
				if w != 0 {
					s += float64(w * tmp[j])
				}
			}
			switch {
			case kind == redLog1pSE:
				// log(1 + Σ e^x) = m + log1p(expm1(−m) + Σ e^(x−m))
				out[i] = float32(float64(mx) + math.Log1p(math.Expm1(-float64(mx))+s))
			case k < 0:
				out[i] = 0
			default:
				out[i] = float32(float64(mx) + math.Log(s))
			}
		}
	})
}

// lseShiftMin is the smallest masked sum Σ_j m_ij·e^{x_ij − max_j x_ij}
// that lseRows32 takes as it is: its largest term is then above
// 1e-20/C, and a term that underflows float32 (below 1e-38) changes
// it by less than 1e-15 relative.
const lseShiftMin = 1e-20

// maskedSum32 returns Σ_j m_j·t_j over the non-zero m_j in float64, on
// four accumulators.
func maskedSum32(t, m []float32) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(m); j += 4 {
		if w := m[j]; w != 0 {
			s0 += float64(w * t[j])
		}
		if w := m[j+1]; w != 0 {
			s1 += float64(w * t[j+1])
		}
		if w := m[j+2]; w != 0 {
			s2 += float64(w * t[j+2])
		}
		if w := m[j+3]; w != 0 {
			s3 += float64(w * t[j+3])
		}
	}
	for ; j < len(m); j++ {
		if w := m[j]; w != 0 {
			s0 += float64(w * t[j])
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// lseGrad32 is maskedRowGrad for redLSE and redLog1pSE:
// g_i·mask_ij·e^{x_ij − out_i}.
func lseGrad32(aff rowAffine, b, c int, x, m, out, g, dx []float32) {
	parallelRows(b, c, func(lo, hi int) {
		var tx []float32
		if aff.on {
			tx = make([]float32, c)
		}
		for i := lo; i < hi; i++ {
			xr, mr, dr := affineRow(aff, x[i*c:(i+1)*c], tx), m[i*c:(i+1)*c], dx[i*c:(i+1)*c]
			oi, gi := out[i], g[i]
			vmath.ExpShift(dr, xr, oi)
			for j, w := range mr {
				if w == 0 {
					dr[j] = 0
				} else {
					dr[j] *= gi * w
				}
			}
			scaleRow(aff, dr)
		}
	})
}

// softplusSum32 is softplusSum: softplus(±t) = max(±t, 0) + log1p(e^{−|t|}),
// with the log1p term shared by the data and noise sides.
func softplusSum32(size int, a, c float32, x, p, n []float32) float64 {
	nb := (size + sumBlock - 1) / sumBlock
	part := make([]float64, nb)
	parallelRows(nb, sumBlock, func(lo, hi int) {
		t, e := make([]float32, sumBlock), make([]float32, sumBlock)
		for k := lo; k < hi; k++ {
			s, end := k*sumBlock, min((k+1)*sumBlock, size)
			xs, ps, ns := x[s:end], p[s:end], n[s:end]
			tt, ee := t[:len(xs)], e[:len(xs)]
			for j, v := range xs {
				u := a*v - c
				tt[j] = u
				ee[j] = -abs32(u)
			}
			vmath.Exp(ee, ee)
			vmath.Log1p(ee, ee)
			var sum float64
			for j, u := range tt {
				pj, nj := ps[j], ns[j]
				if pj == 0 && nj == 0 {
					continue
				}
				if pj != 0 {
					sum += float64(pj * (max(-u, 0) + ee[j]))
				}
				if nj != 0 {
					sum += float64(nj * (max(u, 0) + ee[j]))
				}
			}
			part[k] = sum
		}
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// softplusSumGrad32 is softplusSumGrad: g·a·(n·σ(t) − p·σ(−t)), both
// sigmoids from e = e^{−|t|}: σ(|t|) = 1/(1 + e), σ(−|t|) = e/(1 + e).
func softplusSumGrad32(size int, a, c, gs float32, x, p, n, dx []float32) {
	parallelRows((size+sumBlock-1)/sumBlock, sumBlock, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			s, end := k*sumBlock, min((k+1)*sumBlock, size)
			d := dx[s:end]
			for j, v := range x[s:end] {
				d[j] = -abs32(a*v - c)
			}
			vmath.Exp(d, d)
			for j, e := range d {
				pj, nj := p[s+j], n[s+j]
				if pj == 0 && nj == 0 {
					d[j] = 0
					continue
				}
				r := 1 / (1 + e)
				sp, sn := r, e*r // σ(t), σ(−t) for t ≥ 0
				if a*x[s+j]-c < 0 {
					sp, sn = sn, sp
				}
				var dd float32
				if nj != 0 {
					dd += nj * sp
				}
				if pj != 0 {
					dd -= pj * sn // not 1 − σ(t), which cancels for large t
				}
				d[j] = gs * a * dd
			}
		}
	})
}

// pairLAE32 is pairVecFwd's log-add-exp: the logs of a flagged row's
// e^{v_i − m} + e^{v_j − m} in one vector pass.
func pairLAE32(b int, v, has, out []float32, ev []float64, mx float64) {
	parallelRows(b, b, func(lo, hi int) {
		tmp := make([]float32, b)
		for i := lo; i < hi; i++ {
			row := out[i*b : (i+1)*b]
			if has[i] != 0 {
				for j := range tmp {
					tmp[j] = float32(ev[i] + ev[j])
				}
				vmath.Log(tmp, tmp) // used below only where both are flagged and the sum is normal
			}
			for j := range row {
				if has[i] != 0 && has[j] != 0 { // both flagged (every pair of a P×K batch): no winner to find
					if ev[i]+ev[j] > 1e-30 {
						row[j] = float32(mx) + tmp[j]
					} else {
						row[j] = logAddExpT(v[i], v[j], ev[i], ev[j], mx)
					}
					continue
				}
				switch w := pairWinner(v, has, i, j); w {
				case 0:
					row[j] = 0
				case 1:
					row[j] = v[i]
				default:
					row[j] = v[j]
				}
			}
		}
	})
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
