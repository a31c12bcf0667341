package fakeopenai

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SchemaAnswer returns a JSON value that follows a JSON schema, built from
// score: integers and numbers are the score (or the enum value at that
// position), booleans are score >= 3, strings a fixed text (or an enum value),
// arrays hold one item, objects every property. Local references
// ("#/$defs/...") are followed.
func SchemaAnswer(schema json.RawMessage, score int) string {
	var root map[string]any
	if err := json.Unmarshal(schema, &root); err != nil {
		return fmt.Sprintf(`{"score": %d}`, score)
	}
	out, _ := json.Marshal(generate(root, root, score, 0))
	return string(out)
}

func generate(node, root map[string]any, score, depth int) any {
	if depth > 16 {
		return nil
	}
	if ref, ok := node["$ref"].(string); ok {
		if target := resolve(root, ref); target != nil {
			return generate(target, root, score, depth+1)
		}
		return nil
	}
	if enum, ok := node["enum"].([]any); ok && len(enum) > 0 {
		for _, e := range enum {
			if f, ok := e.(float64); ok && int(f) == score {
				return e
			}
		}
		return enum[score%len(enum)]
	}
	typ, _ := node["type"].(string)
	switch typ {
	case "object":
		obj := map[string]any{}
		props, _ := node["properties"].(map[string]any)
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				obj[name] = generate(pm, root, score, depth+1)
			}
		}
		return obj
	case "array":
		items, _ := node["items"].(map[string]any)
		if items == nil {
			return []any{}
		}
		return []any{generate(items, root, score, depth+1)}
	case "integer", "number":
		return score
	case "boolean":
		return score >= 3
	case "null":
		return nil
	default:
		return "a deterministic answer from the test server"
	}
}

func resolve(root map[string]any, ref string) map[string]any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	m, _ := cur.(map[string]any)
	return m
}
