package shardmap

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// MeasureArgs configures the "measure" selector, which reads a shard once to
// count rows and bytes and, when expressions are given, labels and text
// lengths. It keeps nothing; tasks using it have no output.
type MeasureArgs struct {
	TextExpression  string `json:"text_expression,omitempty"`
	LabelExpression string `json:"label_expression,omitempty"`
}

// Measurer is implemented by selectors that report what they measured.
type Measurer interface {
	Measured() (summary.Task, *summary.Sketch)
}

type measure struct {
	text, label *rows.Expr
	task        summary.Task
	lengths     *summary.Sketch
}

func (m *measure) Key(r *rows.Row) (Key, error) {
	size := len(r.Raw()) + 1
	if m.text == nil && m.label == nil {
		return Key{Size: size}, r.Validate()
	}
	obj, err := r.Object()
	if err != nil {
		return Key{}, err
	}
	k := Key{Size: size}
	if m.text != nil {
		t, err := rows.TextOf(m.text, obj)
		if err != nil {
			return Key{}, err
		}
		k.TextLen = utf8.RuneCountInString(t)
	}
	if m.label != nil {
		if k.Label, err = rows.LabelOf(m.label, obj); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

func (m *measure) Observe(_ int64, k Key) {
	m.task.Rows++
	m.task.Bytes += int64(k.Size)
	if m.label != nil {
		m.task.Labels[k.Label]++
	}
	if m.text != nil {
		m.lengths.Add(float64(k.TextLen))
	}
}

func (m *measure) Finish() (func(int64) bool, error) { return nil, nil }

func (m *measure) Measured() (summary.Task, *summary.Sketch) { return m.task, m.lengths }

func init() {
	RegisterSelector("measure", func(args, _ json.RawMessage) (func(Task) (Selector, error), error) {
		var a MeasureArgs
		if len(args) > 0 {
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, fmt.Errorf("decode arguments: %w", err)
			}
		}
		var text, label *rows.Expr
		var err error
		if a.TextExpression != "" {
			if text, err = rows.Compile(a.TextExpression); err != nil {
				return nil, err
			}
		}
		if a.LabelExpression != "" {
			if label, err = rows.Compile(a.LabelExpression); err != nil {
				return nil, err
			}
		}
		return func(t Task) (Selector, error) {
			m := &measure{text: text, label: label, task: summary.Task{Input: t.Input, Split: t.Split}}
			if label != nil {
				m.task.Labels = map[string]int64{}
			}
			if text != nil {
				m.lengths = summary.NewSketch()
			}
			return m, nil
		}, nil
	})
}
