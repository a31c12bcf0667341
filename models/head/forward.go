package head

import (
	"fmt"
	"math"
)

// Scratch holds one goroutine's intermediate buffers for Forward. The zero
// value is ready; it grows to the largest batch seen and is then reused, so
// steady-state calls allocate nothing.
type Scratch struct{ a, b []float32 }

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// Forward computes the head's outputs for the rows of x (rows of InputDim
// values, row-major) into dst (rows of Outputs values) in plain Go and
// returns dst[:rows*Outputs]. It is safe for concurrent use with one
// Scratch per goroutine.
func (h *Head) Forward(dst, x []float32, s *Scratch) ([]float32, error) {
	d := h.Config.InputDim
	if len(x)%d != 0 {
		return nil, fmt.Errorf("head: input of %d values is not rows of %d", len(x), d)
	}
	rows := len(x) / d
	k := h.Config.Outputs
	if len(dst) < rows*k {
		return nil, fmt.Errorf("head: output buffer of %d values for %d rows of %d outputs", len(dst), rows, k)
	}
	in := x
	last := len(h.Layers) - 1
	for i := range h.Layers {
		l := &h.Layers[i]
		var out []float32
		switch {
		case i == last:
			out = dst[:rows*l.Out]
		case i%2 == 0:
			s.a = grow(s.a, rows*l.Out)
			out = s.a
		default:
			s.b = grow(s.b, rows*l.Out)
			out = s.b
		}
		linear(out, in, rows, l)
		if i != last {
			activate(out, h.Config.Activation)
		}
		in = out
	}
	return dst[:rows*k], nil
}

// linear computes out = in·Wᵀ + b for rows rows. Every output is summed
// in input order with one accumulator, so a row's outputs do not depend on
// the other rows of the batch; four independent sums run at once (four
// rows of one output, or four outputs of one row) and each weight or input
// loaded serves four of them.
func linear(out, in []float32, rows int, l *Layer) {
	n, m := l.In, l.Out
	r := 0
	for ; r+4 <= rows; r += 4 {
		x0 := in[r*n : (r+1)*n]
		x1 := in[(r+1)*n : (r+2)*n]
		x2 := in[(r+2)*n : (r+3)*n]
		x3 := in[(r+3)*n : (r+4)*n]
		for j := range m {
			w := l.W[j*n : (j+1)*n]
			x0, x1, x2, x3 := x0[:len(w)], x1[:len(w)], x2[:len(w)], x3[:len(w)]
			var s0, s1, s2, s3 float32
			for k, wk := range w {
				s0 += wk * x0[k]
				s1 += wk * x1[k]
				s2 += wk * x2[k]
				s3 += wk * x3[k]
			}
			b := l.B[j]
			out[r*m+j] = s0 + b
			out[(r+1)*m+j] = s1 + b
			out[(r+2)*m+j] = s2 + b
			out[(r+3)*m+j] = s3 + b
		}
	}
	for ; r < rows; r++ {
		x := in[r*n : (r+1)*n]
		o := out[r*m : (r+1)*m]
		j := 0
		for ; j+4 <= m; j += 4 {
			w0 := l.W[j*n : (j+1)*n]
			w1 := l.W[(j+1)*n : (j+2)*n]
			w2 := l.W[(j+2)*n : (j+3)*n]
			w3 := l.W[(j+3)*n : (j+4)*n]
			x := x[:len(w0)]
			w1, w2, w3 = w1[:len(w0)], w2[:len(w0)], w3[:len(w0)]
			var s0, s1, s2, s3 float32
			for k, xk := range x {
				s0 += w0[k] * xk
				s1 += w1[k] * xk
				s2 += w2[k] * xk
				s3 += w3[k] * xk
			}
			o[j], o[j+1], o[j+2], o[j+3] = s0+l.B[j], s1+l.B[j+1], s2+l.B[j+2], s3+l.B[j+3]
		}
		for ; j < m; j++ {
			w := l.W[j*n : (j+1)*n]
			x := x[:len(w)]
			var s float32
			for k, wk := range w {
				s += wk * x[k]
			}
			o[j] = s + l.B[j]
		}
	}
}

func activate(v []float32, act Activation) {
	switch act {
	case Tanh:
		for i, x := range v {
			v[i] = float32(math.Tanh(float64(x)))
		}
	default:
		for i, x := range v {
			v[i] = max(x, 0)
		}
	}
}

// Softmax turns logits into probabilities in place (numerically stable).
func Softmax(v []float32) {
	if len(v) == 0 {
		return
	}
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	var sum float64
	for i, x := range v {
		e := math.Exp(float64(x - m))
		v[i] = float32(e)
		sum += e
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / sum)
	}
}
