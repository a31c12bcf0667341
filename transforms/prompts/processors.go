package prompts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Value is what a processor reads from an answer: the fields stored in the
// annotation. Scores are under "score", label lists under "labels" (or the
// schema's own keys for the json processor). Numbers are int64 when integral,
// else float64.
type Value map[string]any

// Processor turns an LLM answer into a Value.
type Processor interface {
	// Name is the processor spec, as given to NewProcessor.
	Name() string
	// JSON reports whether the processor reads a JSON answer; the prompt's
	// JSON variant and schema are then sent with the request.
	JSON() bool
	// Process reads one answer. A failure is a *ParseError.
	Process(answer string) (Value, error)
}

// ParseError is an answer that a processor could not read.
type ParseError struct {
	Processor string
	Reason    string
}

// Error gives the processor and the reason.
func (e *ParseError) Error() string {
	return fmt.Sprintf("unparseable answer (%s): %s", e.Processor, e.Reason)
}

// Processor names understood by NewProcessor besides jq expressions.
const (
	ProcessorJSON       = "json"
	ProcessorFinalScore = "finalscore0-5"
	ProcessorEduScore   = "eduscore0-5"
	ProcessorMEDU       = "medu"
	// ProcessorRegexPrefix starts a regex processor: "regex:RE" where RE
	// has one capturing group holding a number; the last match is the score.
	ProcessorRegexPrefix = "regex:"
	// ProcessorJQPrefix may start a jq expression ("jq:.score"); any spec
	// that is not one of the names above is read as a jq expression too.
	ProcessorJQPrefix = "jq:"
)

// ProcessorHelp describes the processors, for command help.
const ProcessorHelp = `json: the answer is JSON, validated against the prompt's schema; its fields are stored
finalscore0-5: the last "Final score: N" (N in 0-5, case-insensitive) is the score
eduscore0-5: the last "Educational score: N" (N in 0-5, case-insensitive) is the score
medu: a Great/Good/Okay/Poor/Useless verdict becomes the score 5/4/3/2/1
regex:RE: the last match of RE's first group, a number, is the score
jq:EXPR (or any other spec): a jq expression over the JSON answer; a number is stored as
  the score, a list of strings as the labels, an object's fields as they are`

// NewProcessor returns the processor named by spec for prompt p (which gives
// the schema of the json processor; it may be nil). An empty spec selects
// p's default processor.
func NewProcessor(spec string, p *Prompt) (Processor, error) {
	if spec == "" && p != nil {
		spec = p.Processor
	}
	switch {
	case spec == "":
		return nil, fmt.Errorf("no processor given and the prompt has no default")
	case spec == ProcessorJSON:
		return newJSONProcessor(p)
	case spec == ProcessorFinalScore:
		return &regexProcessor{name: spec, re: finalScoreRE, what: `"Final score: N" with N in 0-5`}, nil
	case spec == ProcessorEduScore:
		return &regexProcessor{name: spec, re: eduScoreRE, what: `"Educational score: N" with N in 0-5`}, nil
	case spec == ProcessorMEDU:
		return meduProcessor{}, nil
	case strings.HasPrefix(spec, ProcessorRegexPrefix):
		re, err := regexp.Compile(strings.TrimPrefix(spec, ProcessorRegexPrefix))
		if err != nil {
			return nil, fmt.Errorf("processor %s: %w", spec, err)
		}
		if re.NumSubexp() < 1 {
			return nil, fmt.Errorf("processor %s: the expression needs a capturing group around the score", spec)
		}
		return &regexProcessor{name: spec, re: re, what: "a match of " + re.String()}, nil
	default:
		jp, err := newJQProcessor(spec)
		if err != nil {
			return nil, fmt.Errorf("unknown processor %q: not json, %s, %s, %s or regex:RE, and not a jq expression: %w",
				spec, ProcessorFinalScore, ProcessorEduScore, ProcessorMEDU, err)
		}
		return jp, nil
	}
}

var (
	finalScoreRE = regexp.MustCompile(`(?i)final score:\s*\**\s*([0-5])\b`)
	eduScoreRE   = regexp.MustCompile(`(?i)educational score:\s*\**\s*([0-5])\b`)
)

// regexProcessor reads the last match of a regular expression's first group
// as a number.
type regexProcessor struct {
	name string
	re   *regexp.Regexp
	what string
}

func (r *regexProcessor) Name() string { return r.name }
func (r *regexProcessor) JSON() bool   { return false }

func (r *regexProcessor) Process(answer string) (Value, error) {
	matches := r.re.FindAllStringSubmatch(stripThinking(answer), -1)
	if len(matches) == 0 {
		return nil, &ParseError{Processor: r.name, Reason: "no " + r.what + " in the answer"}
	}
	s := strings.TrimSpace(matches[len(matches)-1][1])
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, &ParseError{Processor: r.name, Reason: fmt.Sprintf("%q is not a number", s)}
	}
	return Value{"score": normalizeNumber(f)}, nil
}

// meduProcessor reads the verdict scale of Marin's Datashop MEDU prompts.
type meduProcessor struct{}

var (
	meduScores  = map[string]int64{"great": 5, "good": 4, "okay": 3, "poor": 2, "useless": 1}
	meduWordRE  = regexp.MustCompile(`(?i)\b(great|good|okay|poor|useless)\b`)
	meduLabelRE = regexp.MustCompile(`(?i)score\s*:\s*\**\s*(great|good|okay|poor|useless)\b`)
)

func (meduProcessor) Name() string { return ProcessorMEDU }
func (meduProcessor) JSON() bool   { return false }

// Process takes the verdict after the last "score:" when there is one (e.g.
// "Final score: Good"), else the last verdict word in the answer.
func (meduProcessor) Process(answer string) (Value, error) {
	answer = stripThinking(answer)
	var word string
	if m := meduLabelRE.FindAllStringSubmatch(answer, -1); len(m) > 0 {
		word = m[len(m)-1][1]
	} else if m := meduWordRE.FindAllString(answer, -1); len(m) > 0 {
		word = m[len(m)-1]
	} else {
		return nil, &ParseError{Processor: ProcessorMEDU, Reason: "no Great/Good/Okay/Poor/Useless verdict in the answer"}
	}
	label := strings.ToUpper(word[:1]) + strings.ToLower(word[1:])
	return Value{"score": meduScores[strings.ToLower(word)], "label": label}, nil
}

// jsonProcessor reads a JSON answer and validates it against the prompt's
// schema when there is one.
type jsonProcessor struct {
	schema *jsonschema.Schema
}

func newJSONProcessor(p *Prompt) (*jsonProcessor, error) {
	jp := &jsonProcessor{}
	if p != nil && p.Schema != nil {
		s, err := compileSchema(p.Schema)
		if err != nil {
			return nil, fmt.Errorf("prompt %s: schema: %w", p.Name, err)
		}
		jp.schema = s
	}
	return jp, nil
}

func (*jsonProcessor) Name() string { return ProcessorJSON }
func (*jsonProcessor) JSON() bool   { return true }

func (j *jsonProcessor) Process(answer string) (Value, error) {
	v, err := ExtractJSON(answer)
	if err != nil {
		return nil, &ParseError{Processor: ProcessorJSON, Reason: err.Error()}
	}
	if j.schema != nil {
		if err := j.schema.Validate(v); err != nil {
			return nil, &ParseError{Processor: ProcessorJSON, Reason: "does not match the schema: " + oneLine(err.Error())}
		}
	}
	return toValue(normalize(v)), nil
}

// jqProcessor evaluates a jq expression over a JSON answer.
type jqProcessor struct {
	spec string
	code *gojq.Code
}

// jqTimeout bounds one jq evaluation, so that an expression that loops
// forever fails the row instead of hanging the run.
const jqTimeout = 5 * time.Second

func newJQProcessor(spec string) (*jqProcessor, error) {
	expr := strings.TrimPrefix(spec, ProcessorJQPrefix)
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, err
	}
	// The compiler asks for the environment only where the expression reads
	// $ENV or env, which is refused: it could read secrets such as the API
	// key from the process environment.
	readsEnv := false
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { readsEnv = true; return nil }))
	if err != nil {
		return nil, err
	}
	if readsEnv {
		return nil, fmt.Errorf("%s reads the environment ($ENV or env), which processors may not", expr)
	}
	return &jqProcessor{spec: spec, code: code}, nil
}

func (j *jqProcessor) Name() string { return j.spec }
func (j *jqProcessor) JSON() bool   { return true }

func (j *jqProcessor) Process(answer string) (Value, error) {
	v, err := ExtractJSON(answer)
	if err != nil {
		return nil, &ParseError{Processor: j.spec, Reason: err.Error()}
	}
	// gojq wants plain float64 numbers rather than json.Number.
	ctx, cancel := context.WithTimeout(context.Background(), jqTimeout)
	defer cancel()
	iter := j.code.RunWithContext(ctx, jqInput(v))
	out, ok := iter.Next()
	if !ok {
		return nil, &ParseError{Processor: j.spec, Reason: "the jq expression produced no result"}
	}
	if err, isErr := out.(error); isErr {
		return nil, &ParseError{Processor: j.spec, Reason: "jq: " + err.Error()}
	}
	out = normalize(out)
	switch x := out.(type) {
	case nil:
		return nil, &ParseError{Processor: j.spec, Reason: "the jq expression produced null"}
	case map[string]any:
		return Value(x), nil
	case int64, float64:
		return Value{"score": x}, nil
	case string:
		return Value{"label": x}, nil
	case []any:
		labels := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return Value{"value": x}, nil
			}
			labels = append(labels, s)
		}
		return Value{"labels": labels}, nil
	default:
		return Value{"value": x}, nil
	}
}

// jqInput converts json.Number values to float64 for gojq.
func jqInput(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jqInput(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jqInput(e)
		}
		return x
	default:
		return v
	}
}

// ExtractJSON reads the JSON value in an answer. It accepts what models add
// around JSON: a reasoning block (<think>...</think>) before it, a Markdown
// code fence around it, or prose around a single object (the text from the
// first "{" to the last "}" is tried last). Numbers are json.Number.
func ExtractJSON(answer string) (any, error) {
	s := strings.TrimSpace(stripThinking(answer))
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```")
		if nl := strings.IndexByte(s, '\n'); nl >= 0 && !strings.ContainsAny(s[:nl], "{[") {
			s = s[nl+1:] // drop the fence's language tag ("json")
		}
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	if s == "" {
		return nil, errors.New("empty answer")
	}
	v, err := decodeJSON(s)
	if err == nil {
		return v, nil
	}
	if i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}'); i >= 0 && j > i {
		if v, err2 := decodeJSON(s[i : j+1]); err2 == nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("not JSON: %v", err)
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON value")
	}
	return v, nil
}

// stripThinking removes a reasoning block that ends with </think>.
func stripThinking(answer string) string {
	if i := strings.LastIndex(answer, "</think>"); i >= 0 {
		return answer[i+len("</think>"):]
	}
	return answer
}

// normalize converts json.Number and integral floats to int64 (else float64),
// recursively.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return normalizeNumber(f)
	case float64:
		return normalizeNumber(x)
	case int:
		return int64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	default:
		return v
	}
}

func normalizeNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

func toValue(v any) Value {
	if m, ok := v.(map[string]any); ok {
		return Value(m)
	}
	return Value{"value": v}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// compileSchema compiles a JSON Schema (draft 2020-12 unless it says
// otherwise). References to anything outside the schema are refused, so a
// schema cannot make the validator read files or the network.
func compileSchema(schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	const url = "mem:///prompt-schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// refuseLoader refuses to load external schema references.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema reference %s is not allowed", url)
}
