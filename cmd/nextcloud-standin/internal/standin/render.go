package standin

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// field is one key of an ordered object: PHP arrays keep insertion order, and so must we, in
// JSON and in XML alike.
type field struct {
	K string
	V any
}

// obj is a PHP associative array. Empty, it renders as `[]`, as PHP does.
type obj []field

// MarshalJSON writes the fields in order.
func (o obj) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("[]"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.K)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.V)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// list is a PHP list. Empty, it renders as `[]` (never null).
type list []any

// MarshalJSON writes the items, `[]` when there are none.
func (l list) MarshalJSON() ([]byte, error) {
	if len(l) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]any(l))
}

// phpFloat is a PHP float. Nextcloud encodes without JSON_PRESERVE_ZERO_FRACTION, so a whole
// float such as a quota's relative 20.0 is written 20, like an integer.
type phpFloat float64

// MarshalJSON writes the value the way PHP's json_encode does (serialize_precision -1): the
// shortest digits that read back the same, in plain notation for exponents from -4 to 16.
func (f phpFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("json: unsupported float %v", v)
	}
	if v == 0 || math.Abs(v) >= 1e-4 && math.Abs(v) < 1e17 {
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	}
	// PHP writes 1.0e+25 and 1.0e-5 where Go writes 1e+25 and 1e-05.
	mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'e', -1, 64), "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
	return []byte(mant + "e" + sign + digits), nil
}

// String is the value as PHP casts it to a string (XML text).
func (f phpFloat) String() string {
	return strconv.FormatFloat(float64(f), 'f', -1, 64)
}

// writeXML renders v the way Nextcloud's OCS XML renderer does: list items become <element>,
// true becomes 1, false and "" an empty element, empty arrays and null a self-closed element.
// Indentation is one space per level (XMLWriter's default).
func writeXML(b *bytes.Buffer, name string, v any, depth int) {
	indent := strings.Repeat(" ", depth)
	open := func() { fmt.Fprintf(b, "%s<%s>", indent, name) }
	closeTag := func() { fmt.Fprintf(b, "</%s>\n", name) }
	switch t := v.(type) {
	case nil:
		fmt.Fprintf(b, "%s<%s/>\n", indent, name)
	case obj, list:
		// An object's children are its fields; a list's are <element>s, as Nextcloud writes them.
		var children obj
		if o, ok := t.(obj); ok {
			children = o
		} else {
			for _, item := range t.(list) {
				children = append(children, field{K: "element", V: item})
			}
		}
		if len(children) == 0 {
			fmt.Fprintf(b, "%s<%s/>\n", indent, name)
			return
		}
		open()
		b.WriteByte('\n')
		for _, f := range children {
			writeXML(b, f.K, f.V, depth+1)
		}
		b.WriteString(indent)
		closeTag()
	case []string:
		l := make(list, len(t))
		for i, s := range t {
			l[i] = s
		}
		writeXML(b, name, l, depth)
	default:
		open()
		xmlText(b, t)
		closeTag()
	}
}

func xmlText(b *bytes.Buffer, v any) {
	var s string
	switch t := v.(type) {
	case bool:
		if t {
			s = "1"
		}
	case string:
		s = t
	case phpFloat:
		s = t.String()
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	default:
		s = fmt.Sprint(t)
	}
	_ = xml.EscapeText(b, []byte(s))
}

// ocsFormat picks the response format: the `format` parameter, else an Accept header naming
// JSON, else XML (Nextcloud's default).
func ocsFormat(r *http.Request, honourAccept bool) string {
	switch r.URL.Query().Get("format") {
	case "json":
		return "json"
	case "xml":
		return "xml"
	}
	if honourAccept && strings.Contains(r.Header.Get("Accept"), "application/json") {
		return "json"
	}
	return "xml"
}

// ocsReply is one OCS answer before rendering. Code is the status as Nextcloud's controllers
// set it: 200 for success, else the OCS failure code (101–113, 403, 996–999, ...).
type ocsReply struct {
	Code    int
	Message string
	Data    any
	// HTTP, when set, forces the HTTP status (maintenance: 503 in v1 and v2 alike).
	HTTP int
	// Outside marks an answer of ocs/v1.php itself rather than of a controller (unknown route,
	// uncaught exception): only the format parameter picks JSON, never the Accept header.
	Outside bool
}

// v2HTTPStatus maps an OCS code to the HTTP status of /ocs/v2.php (OC\AppFramework\OCS\V2Response).
func v2HTTPStatus(code int) int {
	switch {
	case code == 997:
		return http.StatusUnauthorized
	case code == 998:
		return http.StatusNotFound
	case code == 996 || code == 999:
		return http.StatusInternalServerError
	case code < 200 || code > 600:
		return http.StatusBadRequest
	}
	return code
}

// writeOCS renders an OCS envelope for API version 1 or 2.
func writeOCS(w http.ResponseWriter, r *http.Request, version int, rep ocsReply, honourAccept bool) {
	var meta obj
	httpStatus := rep.HTTP
	if version == 1 {
		sc := rep.Code
		if sc == 200 {
			sc = 100
		}
		if httpStatus == 0 {
			httpStatus = http.StatusOK
			if rep.Code == 997 {
				httpStatus = http.StatusUnauthorized
			}
		}
		ok := sc == 100
		meta = obj{{"status", okWord(ok)}, {"statuscode", sc}, {"message", okMessage(ok, rep.Message)},
			{"totalitems", ""}, {"itemsperpage", ""}}
	} else {
		if httpStatus == 0 {
			httpStatus = v2HTTPStatus(rep.Code)
		}
		ok := rep.Code >= 200 && rep.Code < 300
		meta = obj{{"status", okWord(ok)}, {"statuscode", rep.Code}, {"message", okMessage(ok, rep.Message)}}
	}
	data := rep.Data
	if data == nil {
		data = list{}
	}
	body := obj{{"meta", meta}, {"data", data}}
	var b bytes.Buffer
	if ocsFormat(r, honourAccept && !rep.Outside) == "json" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc, err := json.Marshal(obj{{"ocs", body}})
		if err != nil {
			http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
			return
		}
		b.Write(enc)
	} else {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		b.WriteString("<?xml version=\"1.0\"?>\n")
		writeXML(&b, "ocs", body, 0)
	}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b.Bytes())
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "failure"
}

func okMessage(ok bool, msg string) string {
	if ok {
		return "OK"
	}
	return msg
}

// sabreError writes a WebDAV error body the way Sabre\DAV does.
func sabreError(w http.ResponseWriter, status int, exception, message string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
	b.WriteString("<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n")
	b.WriteString("  <s:exception>")
	_ = xml.EscapeText(&b, []byte(exception))
	b.WriteString("</s:exception>\n  <s:message>")
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString("</s:message>\n</d:error>\n")
	_, _ = w.Write(b.Bytes())
}
