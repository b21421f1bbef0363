package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The behaviours of Helm the chart relies on, reproduced here.

func TestSetTyping(t *testing.T) {
	v := map[string]interface{}{}
	for _, a := range []string{
		`a.b=3,c=true,d=null,e=007,f=x\,y`,
		`g={1,two},h[1]=z`,
		`k.dotted\.name=v`,
	} {
		if err := applySet(v, a, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := applySet(v, "s=42", true); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"a": map[string]interface{}{"b": int64(3)},
		"c": true, "d": nil, "e": "007", "f": "x,y",
		"g": []interface{}{int64(1), "two"},
		"h": []interface{}{nil, "z"},
		"k": map[string]interface{}{"dotted.name": "v"},
		"s": "42",
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v\nwant %#v", v, want)
	}
}

func TestValuesAreJSONTyped(t *testing.T) {
	v, err := parseValues([]byte("num: 3\nf: 1.5\nm:\n  1: x\nl: [a, 2]\nz: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"num": float64(3), "f": 1.5, "m": map[string]interface{}{"1": "x"},
		"l": []interface{}{"a", float64(2)}, "z": nil,
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
}

func TestCoalesce(t *testing.T) {
	defaults := map[string]interface{}{
		"keep": "d", "gone": "d", "nilDefault": nil,
		"m": map[string]interface{}{"a": float64(1), "b": float64(2)},
	}
	user := map[string]interface{}{
		"gone": nil, "m": map[string]interface{}{"b": nil, "c": float64(3)}, "extra": nil,
	}
	got := coalesce(user, defaults)
	want := map[string]interface{}{
		"keep": "d", "nilDefault": nil, "extra": nil,
		"m": map[string]interface{}{"a": float64(1), "c": float64(3)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestToYAML(t *testing.T) {
	s, err := toYAML(map[string]interface{}{"b": float64(1000000), "a": []interface{}{"yes", 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a:\n- \"yes\"\n- 1.5\nb: 1000000"; s != want {
		t.Fatalf("got %q want %q", s, want)
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":            "apiVersion: v2\nname: c\nversion: 1.2.3\nappVersion: \"4.5\"\n",
		"values.yaml":           "x: 1\nmsg: hello {{ .Release.Name }}\nobj:\n  k: v\n",
		"templates/_h.tpl":      `{{ define "c.n" }}{{ .Chart.Name }}-{{ .Release.Name }}{{ end }}`,
		"templates/a.yaml":      "name: {{ include \"c.n\" . }}\nmsg: {{ tpl .Values.msg . }}\nmissing: [{{ .Values.nope }}]\nobj:\n  {{- toYaml .Values.obj | nindent 2 }}\ntpl: {{ .Template.Name }}\ncaps: {{ .Capabilities.APIVersions.Has \"apps/v1\" }} {{ .Capabilities.APIVersions.Has \"x/v9\" }} {{ .Capabilities.KubeVersion.Minor }}\n",
		"templates/empty.yaml":  "{{ if .Values.nope }}x: 1{{ end }}\n",
		"templates/NOTES.txt":   "notes for {{ .Release.Name }}\n",
		"templates/fail.yaml":   "{{ if .Values.boom }}{{ fail \"boom!\" }}{{ end }}",
		"templates/needs.yaml":  "v: {{ required \"need r\" .Values.r | default 0 }}\n",
		"templates/z/sub.yaml":  "sub: {{ .Chart.AppVersion }}\n",
		"templates/noenv.yaml":  "",
		"templates/helpers.txt": "",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := &options{release: "rel", namespace: "ns", chartDir: dir, kubeVersion: "v1.28.0"}
	o.sets = append(o.sets, struct {
		arg      string
		asString bool
	}{"r=1", false})
	out, notes, err := render(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Source: c/templates/a.yaml\nname: c-rel\nmsg: hello rel\nmissing: []\nobj:\n  k: v\ntpl: c/templates/a.yaml\ncaps: true false 28\n",
		"# Source: c/templates/z/sub.yaml\nsub: 4.5\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "empty.yaml") || strings.Contains(out, "_h.tpl") || strings.Contains(out, "NOTES") {
		t.Errorf("empty, partial or NOTES output rendered:\n%s", out)
	}
	if notes != "notes for rel\n" {
		t.Errorf("notes %q", notes)
	}

	o.sets = o.sets[:0]
	if _, _, err := render(o); err == nil || err.Error() != "execution error at (c/templates/needs.yaml:1:6): need r" {
		t.Errorf("required: %v", err)
	}
	o.sets = append(o.sets, struct {
		arg      string
		asString bool
	}{"r=1,boom=true", false})
	if _, _, err := render(o); err == nil || err.Error() != "execution error at (c/templates/fail.yaml:1:24): boom!" {
		t.Errorf("fail: %v", err)
	}
	if _, ok := funcMap()["env"]; ok {
		t.Error("env is not a Helm function")
	}
}
