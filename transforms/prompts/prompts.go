// Package prompts holds winnow's library of annotation prompts (embedded
// files), reads custom prompt files, and turns an LLM's answer into a score or
// labels with a processor (see processors.go).
//
// # Prompt files
//
// A prompt file is plain text. In its simplest form the whole file is the task
// prompt: a template with one placeholder, {text} (or {example}, the name
// FineWeb-Edu and FineMath use), that is replaced by the document.
//
// A prompt with more parts uses the txtar layout (golang.org/x/tools/txtar): a
// header of "key: value" lines (and "#" comment lines), then sections that each
// start with a line "-- NAME --":
//
//	# comments are ignored
//	name: my-rubric                (default: the file name without extension)
//	description: one line shown by --list-prompts
//	processor: finalscore0-5       (the default processor, see NewProcessor)
//	system: code_system            (a system prompt of the library, by name)
//	strict: false                  (send the schema without OpenAI's strict mode)
//	-- system --
//	A system prompt, given literally (instead of "system:" above).
//	-- prompt --
//	The task prompt, with {text}.
//	-- prompt.json --
//	Optional: the variant sent when the answer is read as JSON (processor json
//	or a jq expression), e.g. asking for {"score": N} instead of "Score: N".
//	-- schema.json --
//	Optional: the JSON Schema of a JSON answer. It is sent as structured output
//	(response_format json_schema) and the json processor validates against it.
//
// Every section's trailing newline is dropped. A plain prompt file must not
// contain a line of the form "-- NAME --", which would start a section.
package prompts

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"
)

// Placeholders that a task prompt may use for the document text.
const (
	TextPlaceholder    = "{text}"
	ExamplePlaceholder = "{example}"
)

//go:embed library
var library embed.FS

// Prompt is an annotation prompt: the messages sent for one document, how its
// answer is read, and optionally the JSON Schema of that answer.
type Prompt struct {
	// Name identifies the prompt; annotations are stored in a row field of
	// this name by default.
	Name string
	// Description is a one-line summary.
	Description string
	// System is the system prompt text ("" for none).
	System string
	// Template is the task prompt with a {text} or {example} placeholder.
	Template string
	// JSONTemplate is the variant used when the answer is read as JSON; ""
	// means Template serves both.
	JSONTemplate string
	// Schema is the JSON Schema of a JSON answer (nil when the prompt has none).
	Schema json.RawMessage
	// Strict asks OpenAI-compatible servers for strict schema adherence.
	Strict bool
	// Processor is the default processor spec (see NewProcessor).
	Processor string
}

// TemplateFor returns the task template to use: the JSON variant when the
// answer is read as JSON and the prompt has one, else Template.
func (p *Prompt) TemplateFor(jsonAnswer bool) string {
	if jsonAnswer && p.JSONTemplate != "" {
		return p.JSONTemplate
	}
	return p.Template
}

// Render returns the task prompt for one document: the template (see
// TemplateFor) with its placeholder replaced by text. The document is inserted
// as it is; placeholders inside the document are not expanded.
func (p *Prompt) Render(text string, jsonAnswer bool) string {
	tmpl := p.TemplateFor(jsonAnswer)
	placeholder := TextPlaceholder
	if !strings.Contains(tmpl, TextPlaceholder) {
		placeholder = ExamplePlaceholder
	}
	return strings.ReplaceAll(tmpl, placeholder, text)
}

// Validate checks that each template has exactly one kind of placeholder and
// that the schema, if any, is a valid JSON Schema.
func (p *Prompt) Validate() error {
	if p.Name == "" {
		return fmt.Errorf("prompt has no name")
	}
	for _, t := range []struct{ section, text string }{{"prompt", p.Template}, {"prompt.json", p.JSONTemplate}} {
		if t.section == "prompt.json" && t.text == "" {
			continue
		}
		hasText := strings.Contains(t.text, TextPlaceholder)
		hasExample := strings.Contains(t.text, ExamplePlaceholder)
		switch {
		case strings.TrimSpace(t.text) == "":
			return fmt.Errorf("prompt %s: %s is empty", p.Name, t.section)
		case !hasText && !hasExample:
			return fmt.Errorf("prompt %s: %s has no %s or %s placeholder", p.Name, t.section, TextPlaceholder, ExamplePlaceholder)
		case hasText && hasExample:
			return fmt.Errorf("prompt %s: %s uses both %s and %s", p.Name, t.section, TextPlaceholder, ExamplePlaceholder)
		}
	}
	if p.Schema != nil {
		if _, err := compileSchema(p.Schema); err != nil {
			return fmt.Errorf("prompt %s: schema: %w", p.Name, err)
		}
	}
	return nil
}

// List returns the prompts of the embedded library, sorted by name.
func List() []*Prompt {
	entries, err := fs.ReadDir(library, "library")
	if err != nil {
		panic(fmt.Sprintf("prompts: embedded library: %v", err))
	}
	var out []*Prompt
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".prompt" {
			continue
		}
		p, err := Get(strings.TrimSuffix(e.Name(), ".prompt"))
		if err != nil {
			panic(fmt.Sprintf("prompts: embedded library: %v", err))
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns a prompt of the embedded library by name. The result is a fresh
// copy that the caller may modify.
func Get(name string) (*Prompt, error) {
	data, err := library.ReadFile("library/" + name + ".prompt")
	if err != nil {
		return nil, fmt.Errorf("unknown prompt %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	p, err := Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("library prompt %s: %w", name, err)
	}
	return p, nil
}

// Names returns the names of the library's prompts, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(library, "library")
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".prompt" {
			names = append(names, strings.TrimSuffix(e.Name(), ".prompt"))
		}
	}
	sort.Strings(names)
	return names
}

// SystemPrompts returns the names of the library's system prompts, sorted.
func SystemPrompts() []string {
	entries, _ := fs.ReadDir(library, "library/system")
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".txt" {
			names = append(names, strings.TrimSuffix(e.Name(), ".txt"))
		}
	}
	sort.Strings(names)
	return names
}

// System returns a system prompt of the library by name.
func System(name string) (string, error) {
	data, err := library.ReadFile("library/system/" + name + ".txt")
	if err != nil {
		return "", fmt.Errorf("unknown system prompt %q (known: %s)", name, strings.Join(SystemPrompts(), ", "))
	}
	return strings.TrimRight(string(data), "\n"), nil
}

// Resolve returns the library prompt named nameOrFile, else reads it as a
// prompt file (what --task-prompt accepts).
func Resolve(nameOrFile string) (*Prompt, error) {
	if _, err := library.ReadFile("library/" + nameOrFile + ".prompt"); err == nil && !strings.ContainsAny(nameOrFile, `/\`) {
		return Get(nameOrFile)
	}
	if _, err := os.Stat(nameOrFile); err != nil {
		return nil, fmt.Errorf("%q is neither a library prompt (%s) nor a readable prompt file: %w",
			nameOrFile, strings.Join(Names(), ", "), err)
	}
	return LoadFile(nameOrFile)
}

// ResolveSystem returns the library system prompt named nameOrText, else
// nameOrText itself as the system prompt's text (what --system-prompt
// accepts).
func ResolveSystem(nameOrText string) string {
	if s, err := System(nameOrText); err == nil {
		return s
	}
	return nameOrText
}

// LoadFile reads a custom prompt file (see the package documentation for the
// format). The prompt's name defaults to the file name without extension.
func LoadFile(file string) (*Prompt, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read prompt file: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	p, err := Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("prompt file %s: %w", file, err)
	}
	return p, nil
}

// Parse reads a prompt in the prompt file format; name is used when the file
// does not set one.
func Parse(name string, data []byte) (*Prompt, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	ar := txtar.Parse(data)
	p := &Prompt{Name: name, Strict: true}
	if len(ar.Files) == 0 {
		// A plain template: the whole file.
		p.Template = strings.TrimRight(string(data), "\n")
		return p, p.Validate()
	}
	systemName := ""
	for i, line := range strings.Split(string(ar.Comment), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %d: want \"key: value\", got %q", i+1, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "name":
			p.Name = value
		case "description":
			p.Description = value
		case "processor":
			p.Processor = value
		case "system":
			systemName = value
		case "strict":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("header line %d: strict: %w", i+1, err)
			}
			p.Strict = b
		default:
			return nil, fmt.Errorf("header line %d: unknown key %q (want name, description, processor, system, strict)", i+1, key)
		}
	}
	seen := map[string]bool{}
	for _, f := range ar.Files {
		if seen[f.Name] {
			return nil, fmt.Errorf("section %q appears twice", f.Name)
		}
		seen[f.Name] = true
		text := strings.TrimRight(string(f.Data), "\n")
		switch f.Name {
		case "prompt":
			p.Template = text
		case "prompt.json":
			p.JSONTemplate = text
		case "system":
			p.System = text
		case "schema.json":
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(text)); err != nil {
				return nil, fmt.Errorf("schema.json: %w", err)
			}
			p.Schema = json.RawMessage(compact.Bytes())
		default:
			return nil, fmt.Errorf("unknown section %q (want prompt, prompt.json, system, schema.json)", f.Name)
		}
	}
	if !seen["prompt"] {
		return nil, fmt.Errorf("no \"-- prompt --\" section")
	}
	if systemName != "" {
		if seen["system"] {
			return nil, fmt.Errorf("both a \"system:\" header and a \"-- system --\" section")
		}
		s, err := System(systemName)
		if err != nil {
			return nil, err
		}
		p.System = s
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// TruncationNote is appended to a document cut by Truncate; %d is the number
// of characters left out and the document's full length, in characters.
const TruncationNote = "\n[... truncated: the last %d of %d characters are omitted]"

// Truncate cuts text to at most maxChars characters (Unicode code points)
// when it is longer, and appends TruncationNote so that the model knows the
// document continues and how much of it is missing. maxChars <= 0 disables
// truncation. The note itself is not counted in maxChars.
func Truncate(text string, maxChars int) string {
	if maxChars <= 0 || len(text) <= maxChars {
		return text
	}
	n, cut := 0, -1
	for i := range text {
		if n == maxChars {
			cut = i
		}
		n++
	}
	if cut < 0 {
		return text // at most maxChars code points
	}
	return text[:cut] + fmt.Sprintf(TruncationNote, n-maxChars, n)
}
