package head

import "math"

// plateau reduces the learning rate when the validation loss stops
// improving, as torch.optim.lr_scheduler.ReduceLROnPlateau does in mode
// "min" with threshold_mode "rel" and no cooldown: an epoch improves when
// its loss is below best·(1−threshold); after more than patience epochs
// without improvement the rate is multiplied by factor, not below minLR
// (a change smaller than 1e-8 is not made), and the count restarts.
type plateau struct {
	factor, threshold, minLR float64
	patience                 int
	best                     float64
	bad                      int
}

func newPlateau(factor, threshold, minLR float64, patience int) *plateau {
	return &plateau{factor: factor, threshold: threshold, minLR: minLR, patience: patience, best: math.Inf(1)}
}

// step takes an epoch's validation loss and the current rate and returns
// the rate for the next epoch.
func (p *plateau) step(loss, lr float64) float64 {
	if loss < p.best*(1-p.threshold) {
		p.best, p.bad = loss, 0
		return lr
	}
	p.bad++
	if p.bad <= p.patience {
		return lr
	}
	p.bad = 0
	if next := max(lr*p.factor, p.minLR); lr-next > 1e-8 {
		return next
	}
	return lr
}

// monitor tracks the best value of the selection metric and the epochs
// since it last improved, as PyTorch Lightning's EarlyStopping does: a
// value improves when it beats the best by more than minDelta (higher is
// better when higher is set); NaN never improves.
type monitor struct {
	higher   bool
	minDelta float64
	best     float64
	wait     int
}

func newMonitor(higher bool, minDelta float64) *monitor {
	best := math.Inf(1)
	if higher {
		best = math.Inf(-1)
	}
	return &monitor{higher: higher, minDelta: minDelta, best: best}
}

// update takes an epoch's value and reports whether it is the new best.
func (m *monitor) update(v float64) bool {
	improved := v-m.minDelta > m.best
	if !m.higher {
		improved = v+m.minDelta < m.best
	}
	if improved {
		m.best, m.wait = v, 0
		return true
	}
	m.wait++
	return false
}
