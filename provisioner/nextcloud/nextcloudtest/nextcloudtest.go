// Package nextcloudtest provides utilities for testing code that talks to Nextcloud, as
// net/http/httptest does for HTTP: it checks the OCS envelope and the shape of responses, turning
// OCS XML into the same generic values JSON decodes to and checking that one document has the keys
// and value kinds of another. The client's tests (provisioner/nextcloud) and the stand-in's tests
// (cmd/nextcloud-standin/internal/standin) share it, so both are held to the same real fixtures.
package nextcloudtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FromXML converts an OCS XML document into generic values: leaves are strings, elements whose
// children are all <element> become []any, other elements map[string]any; an empty element is
// "". Keys keeps the child order of every map, by path.
func FromXML(b []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read xml: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			v, err := element(dec, se)
			if err != nil {
				return nil, err
			}
			return map[string]any{se.Name.Local: v}, nil
		}
	}
}

func element(dec *xml.Decoder, start xml.StartElement) (any, error) {
	var text strings.Builder
	var names []string
	var values []any
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("xml: unexpected end in <%s>", start.Name.Local)
		}
		if err != nil {
			return nil, fmt.Errorf("read xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := element(dec, t)
			if err != nil {
				return nil, err
			}
			names = append(names, t.Name.Local)
			values = append(values, v)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(names) == 0 {
				return strings.TrimSpace(text.String()), nil
			}
			allElements := true
			for _, n := range names {
				if n != "element" {
					allElements = false
				}
			}
			if allElements {
				return values, nil
			}
			m := make(map[string]any, len(names))
			for i, n := range names {
				m[n] = values[i]
			}
			return m, nil
		}
	}
}

// ToJSON re-encodes a generic value as JSON, so that XML converted by FromXML can go through
// the same decoders as a JSON body.
func ToJSON(v any) ([]byte, error) { return json.Marshal(v) }

// Decode parses JSON into generic values, keeping numbers as json.Number.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Kind names a JSON value's kind: object, list, string, number, bool, null. An empty list is
// "empty", which matches both object and list: PHP renders an empty array as [].
func Kind(v any) string {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return "empty"
		}
		return "object"
	case []any:
		if len(t) == 0 {
			return "empty"
		}
		return "list"
	case string:
		return "string"
	case json.Number, float64, int, int64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func kindsMatch(want, got string) bool {
	if want == got {
		return true
	}
	if want == "empty" || got == "empty" {
		return want == "object" || want == "list" || got == "object" || got == "list" || want == got
	}
	return false
}

// Options tune a comparison.
type Options struct {
	// Exact requires the same key set in every object (else want's keys must be a subset of got's).
	Exact bool
	// Ignore lists dotted paths (like "ocs.meta.totalitems") to skip.
	Ignore []string
	// Loose compares leaves as text, for a document converted from XML.
	Loose bool
}

// Compare reports every place where got lacks a key of want or has another kind of value there.
func Compare(want, got any, opt Options) []string {
	var diffs []string
	ignore := map[string]bool{}
	for _, p := range opt.Ignore {
		ignore[p] = true
	}
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		if ignore[path] {
			return
		}
		wk, gk := Kind(w), Kind(g)
		if opt.Loose && (w == "" || g == "") {
			// An empty XML element is an empty PHP array as much as an empty string.
			return
		}
		if opt.Loose {
			if _, ok := w.(string); ok && gk != "object" && gk != "list" {
				return
			}
			if _, ok := g.(string); ok && wk != "object" && wk != "list" {
				return
			}
		}
		if !kindsMatch(wk, gk) {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", path, wk, gk))
			return
		}
		if wk == "empty" || gk == "empty" {
			// PHP renders any empty array as []: nothing more to compare.
			return
		}
		switch wt := w.(type) {
		case map[string]any:
			gt, _ := g.(map[string]any)
			keys := make([]string, 0, len(wt))
			for k := range wt {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := strings.TrimPrefix(path+"."+k, ".")
				if ignore[p] {
					continue
				}
				gv, ok := gt[k]
				if !ok {
					diffs = append(diffs, p+": missing")
					continue
				}
				walk(p, wt[k], gv)
			}
			if opt.Exact {
				for k := range gt {
					p := strings.TrimPrefix(path+"."+k, ".")
					if _, ok := wt[k]; !ok && !ignore[p] {
						diffs = append(diffs, p+": unexpected")
					}
				}
			}
		case []any:
			gt, _ := g.([]any)
			if len(wt) > 0 && len(gt) > 0 {
				walk(path+"[]", wt[0], gt[0])
			}
		}
	}
	walk("", want, got)
	return diffs
}
