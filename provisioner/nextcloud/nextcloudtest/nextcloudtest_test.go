package nextcloudtest

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		opt       Options
		diffs     []string
	}{
		{"same", `{"a":1,"b":{"c":"x"}}`, `{"a":2,"b":{"c":"y"}}`, Options{}, nil},
		{"extra key allowed", `{"a":1}`, `{"a":1,"b":2}`, Options{}, nil},
		{"extra key refused when exact", `{"a":1}`, `{"a":1,"b":2}`, Options{Exact: true}, []string{"b: unexpected"}},
		{"missing key", `{"a":1,"b":2}`, `{"a":1}`, Options{}, []string{"b: missing"}},
		{"kind differs", `{"a":1}`, `{"a":"1"}`, Options{}, []string{"a: want number, got string"}},
		{"loose leaves", `{"a":1}`, `{"a":"1"}`, Options{Loose: true}, nil},
		{"empty array matches object", `{"a":{"x":1}}`, `{"a":[]}`, Options{}, nil},
		{"list items", `{"a":[{"x":1}]}`, `{"a":[{"y":1}]}`, Options{}, []string{"a[].x: missing"}},
		{"ignored", `{"a":1,"b":2}`, `{"a":1}`, Options{Ignore: []string{"b"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Decode([]byte(tt.want))
			if err != nil {
				t.Fatal(err)
			}
			g, err := Decode([]byte(tt.got))
			if err != nil {
				t.Fatal(err)
			}
			d := Compare(w, g, tt.opt)
			if strings.Join(d, ";") != strings.Join(tt.diffs, ";") {
				t.Errorf("diffs %q, want %q", d, tt.diffs)
			}
		})
	}
}

func TestFromXML(t *testing.T) {
	v, err := FromXML([]byte(`<?xml version="1.0"?><ocs><meta><statuscode>100</statuscode></meta><data><users><element>a</element><element>b</element></users><empty/></data></ocs>`))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := ToJSON(v)
	want := `{"ocs":{"data":{"empty":"","users":["a","b"]},"meta":{"statuscode":"100"}}}`
	if string(j) != want {
		t.Errorf("got %s, want %s", j, want)
	}
}
