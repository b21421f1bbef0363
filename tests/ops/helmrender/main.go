// helmrender: a small stand-in for `helm template`, for CI machines without
// Helm (Debian packages no helm). It renders a chart with Go's text/template
// and sprig v3 (the function library Helm uses, from Debian's
// golang-github-masterminds-sprig-dev), plus what Helm's engine adds on top:
//
//   - functions: include, tpl, required, toYaml, fromYaml, fromYamlArray,
//     toJson, fromJson, fromJsonArray, lookup (empty, as in `helm template`);
//     sprig's env and expandenv are removed, as Helm does. Not provided:
//     toToml, fromToml (no TOML library in Debian's Go packages), .Files.
//   - objects: .Values (values.yaml, then -f files, then --set/--set-string,
//     merged as Helm does: maps deeply, a null removes a default), .Release
//     (Name, Namespace, Service, IsInstall, IsUpgrade, Revision), .Chart
//     (from Chart.yaml), .Capabilities (KubeVersion, APIVersions.Has,
//     HelmVersion), .Template (Name, BasePath).
//   - Chart.yaml's kubeVersion checked against --kube-version (default
//     v1.28.0), as Helm checks it against the cluster's.
//   - missingkey=zero, and "<no value>" replaced by "" in the output, as Helm.
//   - templates whose name starts with "_" are parsed but not rendered;
//     NOTES.txt is rendered (so its errors show) but printed only with
//     --notes; empty outputs are dropped.
//   - values parse like Helm's (YAML to JSON: every number in a file is a
//     float64; --set gives int64 for integers, bool for true/false, nil for
//     null), so type mistakes that break real Helm break here too.
//
// It is not Helm: no subcharts/dependencies, no values.schema.json, no hooks
// or kind-ordered output (documents come in template file order), no
// .helmignore, --set supports a.b=v, a={x,y}, a[0]=v and backslash escapes
// (not --set-file or --set-json). Use real `helm template` / `helm lint`
// wherever Helm is available.
//
// Usage:
//
//	helmrender [NAME] CHART_DIR [-n NAMESPACE] [-f VALUES.yaml]...
//	           [--set K=V]... [--set-string K=V]... [--api-versions G/V]...
//	           [--kube-version vX.Y.Z] [--notes]
//
// Output: the rendered manifests as `helm template` prints them
// ("---\n# Source: <chart>/templates/<file>\n..."). Errors: "Error: ..." on
// stderr, exit status 1 (2 for bad arguments).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	// GOPATH mode (Debian's /usr/share/gocode) resolves sprig v3 and semver
	// v3 under their directory names; sprig's own imports of .../v3 paths
	// resolve through Go's minimal module compatibility.
	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

// Helm's limit on nested include calls of one template.
const recursionMax = 1000

// ---------------------------------------------------------------- chart --

// ChartMeta mirrors the fields of Helm's chart.Metadata that templates use.
type ChartMeta struct {
	APIVersion  string            `yaml:"apiVersion"`
	Name        string            `yaml:"name"`
	Version     string            `yaml:"version"`
	AppVersion  string            `yaml:"appVersion"`
	KubeVersion string            `yaml:"kubeVersion"`
	Description string            `yaml:"description"`
	Type        string            `yaml:"type"`
	Keywords    []string          `yaml:"keywords"`
	Home        string            `yaml:"home"`
	Sources     []string          `yaml:"sources"`
	Icon        string            `yaml:"icon"`
	Deprecated  bool              `yaml:"deprecated"`
	Annotations map[string]string `yaml:"annotations"`
	Maintainers []struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
		URL   string `yaml:"url"`
	} `yaml:"maintainers"`
	Dependencies []interface{} `yaml:"dependencies"`
}

type tmplFile struct {
	name string // <chart name>/templates/<relative path>
	data string
}

func loadChart(dir string) (*ChartMeta, map[string]interface{}, []tmplFile, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not a chart: %v", err)
	}
	var meta ChartMeta
	if err := yaml.UnmarshalStrict(raw, &meta); err != nil {
		return nil, nil, nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	if meta.APIVersion != "v2" {
		return nil, nil, nil, fmt.Errorf("Chart.yaml: apiVersion %q: only v2 charts are supported", meta.APIVersion)
	}
	if meta.Name == "" || meta.Version == "" {
		return nil, nil, nil, errors.New("Chart.yaml: name and version are required")
	}
	if len(meta.Dependencies) > 0 {
		return nil, nil, nil, errors.New("Chart.yaml: dependencies are not supported by this renderer")
	}
	values := map[string]interface{}{}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if values, err = parseValues(raw); err != nil {
			return nil, nil, nil, fmt.Errorf("values.yaml: %v", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, err
	}
	var files []tmplFile
	tdir := filepath.Join(dir, "templates")
	err = filepath.WalkDir(tdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tdir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, tmplFile{path.Join(meta.Name, "templates", filepath.ToSlash(rel)), string(b)})
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return &meta, values, files, nil
}

// --------------------------------------------------------------- values --

// parseValues reads YAML the way Helm does (sigs.k8s.io/yaml): through JSON,
// so maps have string keys and every number is a float64.
func parseValues(raw []byte) (map[string]interface{}, error) {
	var y interface{}
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, err
	}
	if y == nil {
		return map[string]interface{}{}, nil
	}
	j, err := yamlToJSONValue(y)
	if err != nil {
		return nil, err
	}
	m, ok := j.(map[string]interface{})
	if !ok {
		return nil, errors.New("the top level must be a map")
	}
	return m, nil
}

// yamlToJSONValue turns what yaml.v2 decodes into what encoding/json would
// decode from the equivalent JSON.
func yamlToJSONValue(y interface{}) (interface{}, error) {
	j, err := json.Marshal(jsonable(y))
	if err != nil {
		return nil, err
	}
	var out interface{}
	err = json.Unmarshal(j, &out)
	return out, err
}

// jsonable converts yaml.v2's map[interface{}]interface{} to string-keyed
// maps (keys as their text, as sigs.k8s.io/yaml does).
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case float64:
				ks = strconv.FormatFloat(kk, 'g', -1, 64)
			default:
				ks = fmt.Sprint(kk)
			}
			m[ks] = jsonable(e)
		}
		return m
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[k] = jsonable(e)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, e := range t {
			l[i] = jsonable(e)
		}
		return l
	default:
		return v
	}
}

// mergeMaps: b over a, maps merged deeply (Helm's merge of -f files).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce: user values over the chart's defaults, as Helm's
// chartutil.CoalesceValues: maps merged deeply, the user's value wins, and a
// user null removes the chart's key (a null in values.yaml itself stays).
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(user))
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, ok := out[k]
		if !ok {
			out[k] = dv
			continue
		}
		if uv == nil {
			delete(out, k)
			continue
		}
		um, uIsMap := uv.(map[string]interface{})
		dm, dIsMap := dv.(map[string]interface{})
		if uIsMap && dIsMap {
			out[k] = coalesce(um, dm)
		} else if dIsMap && !uIsMap {
			fmt.Fprintf(os.Stderr, "warning: %s: a map in the chart's values is overwritten by a non-map value\n", k)
		}
	}
	return out
}

// --------------------------------------------------------------- --set ---

// typedVal is Helm's strvals typing of a --set value.
func typedVal(s string, asString bool) interface{} {
	if asString {
		return s
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "0":
		return int64(0)
	}
	if s != "" && s[0] != '0' {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	return s
}

// splitUnescaped splits s at sep outside of {...}, honouring backslash
// escapes (kept, for the next stage to read).
func splitUnescaped(s string, sep rune) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune('\\')
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '{':
			depth++
			cur.WriteRune(r)
		case r == '}':
			if depth > 0 {
				depth--
			}
			cur.WriteRune(r)
		case r == sep && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if esc {
		cur.WriteRune('\\')
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		if !esc && r == '\\' {
			esc = true
			continue
		}
		esc = false
		b.WriteRune(r)
	}
	return b.String()
}

var releaseNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

var indexRe = regexp.MustCompile(`^(.*)\[([0-9]+)\]$`)

// applySet applies one --set/--set-string argument ("a.b=v,c[0]=w,d={x,y}").
func applySet(vals map[string]interface{}, arg string, asString bool) error {
	for _, assign := range splitUnescaped(arg, ',') {
		if assign == "" {
			continue
		}
		kv := splitUnescaped(assign, '=')
		if len(kv) < 2 || kv[0] == "" {
			return fmt.Errorf("--set %q: key %q has no value", arg, assign)
		}
		raw := strings.Join(kv[1:], "=")
		var val interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			if inner := raw[1 : len(raw)-1]; inner != "" {
				for _, item := range splitUnescaped(inner, ',') {
					list = append(list, typedVal(unescape(item), asString))
				}
			}
			val = list
		} else {
			val = typedVal(unescape(raw), asString)
		}
		keys := splitUnescaped(kv[0], '.')
		for i := range keys {
			keys[i] = unescape(keys[i])
		}
		if err := setPath(vals, keys, val); err != nil {
			return fmt.Errorf("--set %q: %v", arg, err)
		}
	}
	return nil
}

func setPath(m map[string]interface{}, keys []string, val interface{}) error {
	key := keys[0]
	idx := -1
	if g := indexRe.FindStringSubmatch(key); g != nil {
		key = g[1]
		idx, _ = strconv.Atoi(g[2])
		if idx > 65536 {
			return fmt.Errorf("index %d too large", idx)
		}
	}
	if key == "" {
		return errors.New("empty key")
	}
	last := len(keys) == 1
	if idx < 0 {
		if last {
			m[key] = val
			return nil
		}
		sub, ok := m[key].(map[string]interface{})
		if !ok {
			sub = map[string]interface{}{}
			m[key] = sub
		}
		return setPath(sub, keys[1:], val)
	}
	list, _ := m[key].([]interface{})
	for len(list) <= idx {
		list = append(list, nil)
	}
	if last {
		list[idx] = val
	} else {
		sub, ok := list[idx].(map[string]interface{})
		if !ok {
			sub = map[string]interface{}{}
			list[idx] = sub
		}
		if err := setPath(sub, keys[1:], val); err != nil {
			return err
		}
	}
	m[key] = list
	return nil
}

// ----------------------------------------------------------- functions --

// toYAML is Helm's toYaml (sigs.k8s.io/yaml.Marshal): through JSON, so
// struct tags and number formats follow encoding/json; keys sorted.
func toYAML(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var generic interface{}
	if err := yaml.Unmarshal(j, &generic); err != nil {
		return "", err
	}
	b, err := yaml.Marshal(generic)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml": func(v interface{}) string {
			s, err := toYAML(v)
			if err != nil {
				return "" // Helm swallows the error too
			}
			return s
		},
		"fromYaml": func(s string) map[string]interface{} {
			m, err := parseValues([]byte(s))
			if err != nil {
				return map[string]interface{}{"Error": err.Error()}
			}
			return m
		},
		"fromYamlArray": func(s string) []interface{} {
			var y interface{}
			if err := yaml.Unmarshal([]byte(s), &y); err != nil {
				return []interface{}{err.Error()}
			}
			j, err := yamlToJSONValue(y)
			if err != nil {
				return []interface{}{err.Error()}
			}
			l, ok := j.([]interface{})
			if !ok {
				return []interface{}{"not an array"}
			}
			return l
		},
		"toJson": func(v interface{}) string {
			b, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(b)
		},
		"fromJson": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"fromJsonArray": func(s string) []interface{} {
			var l []interface{}
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				return []interface{}{err.Error()}
			}
			return l
		},
		"required": func(msg string, v interface{}) (interface{}, error) {
			if v == nil {
				return v, errors.New(msg)
			}
			if s, ok := v.(string); ok && s == "" {
				return v, errors.New(msg)
			}
			return v, nil
		},
		// `helm template` talks to no cluster: lookup finds nothing.
		"lookup": func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		// Replaced per render below; present so that templates parse.
		"include": func(string, interface{}) (string, error) { return "", nil },
		"tpl":     func(string, interface{}) (string, error) { return "", nil },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// bindEngineFuncs gives t its own include and tpl (they need the template
// set they run in).
func bindEngineFuncs(t *template.Template, counts map[string]int) {
	t.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			if counts[name] > recursionMax {
				return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
			}
			counts[name]++
			defer func() { counts[name]-- }()
			var buf strings.Builder
			err := t.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			c, err := t.Clone()
			if err != nil {
				return "", err
			}
			bindEngineFuncs(c, counts)
			c, err = c.New("tpl").Parse(text)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %v", text, err)
			}
			var buf strings.Builder
			if err := c.Execute(&buf, data); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
	})
}

// -------------------------------------------------------------- engine ---

type apiVersions []string

// Has is .Capabilities.APIVersions.Has: a group/version or group/version/kind.
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type kubeVersion struct {
	Version, Major, Minor, GitVersion string
}

func (k kubeVersion) String() string { return k.Version }

// The built-in API versions `helm template` assumes (a subset of client-go's
// scheme: what charts commonly test for).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
	"storage.k8s.io/v1", "apiextensions.k8s.io/v1",
	"coordination.k8s.io/v1", "discovery.k8s.io/v1",
}

// execError turns text/template's chain of errors into Helm's
// "execution error at (<file>:<line>:<col>): <message>" for fail and
// required, and keeps anything else as it is.
func execError(err error) error {
	s := err.Error()
	loc := regexp.MustCompile(`^template: ([^:]+:[0-9]+:[0-9]+): `).FindStringSubmatch(s)
	for _, fn := range []string{"fail", "required"} {
		marker := "error calling " + fn + ": "
		if i := strings.LastIndex(s, marker); i >= 0 && loc != nil {
			return fmt.Errorf("execution error at (%s): %s", loc[1], s[i+len(marker):])
		}
	}
	return err
}

type options struct {
	release, namespace, chartDir string
	valueFiles                   []string
	sets                         []struct {
		arg      string
		asString bool
	}
	apiVersions []string
	kubeVersion string
	notes       bool
}

func render(o *options) (string, string, error) {
	meta, defaults, files, err := loadChart(o.chartDir)
	if err != nil {
		return "", "", err
	}
	user := map[string]interface{}{}
	for _, f := range o.valueFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		v, err := parseValues(raw)
		if err != nil {
			return "", "", fmt.Errorf("%s: %v", f, err)
		}
		user = mergeMaps(user, v)
	}
	for _, s := range o.sets {
		if err := applySet(user, s.arg, s.asString); err != nil {
			return "", "", err
		}
	}
	values := coalesce(user, defaults)

	kv := strings.TrimPrefix(o.kubeVersion, "v")
	parts := strings.SplitN(kv, ".", 3)
	if len(parts) < 2 {
		return "", "", fmt.Errorf("--kube-version %q: expected vMAJOR.MINOR[.PATCH]", o.kubeVersion)
	}
	// Helm refuses a chart whose kubeVersion excludes the cluster's.
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return "", "", fmt.Errorf("Chart.yaml: kubeVersion %q: %v", meta.KubeVersion, err)
		}
		v, err := semver.NewVersion(kv)
		if err != nil {
			return "", "", fmt.Errorf("--kube-version %q: %v", o.kubeVersion, err)
		}
		if !c.Check(v) {
			return "", "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", meta.KubeVersion, kv)
		}
	}
	caps := map[string]interface{}{
		"KubeVersion": kubeVersion{Version: "v" + kv, Major: parts[0], Minor: parts[1], GitVersion: "v" + kv},
		"APIVersions": apiVersions(append(append([]string{}, defaultAPIVersions...), o.apiVersions...)),
		"HelmVersion": map[string]interface{}{"Version": "v3-compatible (helmrender)"},
	}
	release := map[string]interface{}{
		"Name": o.release, "Namespace": o.namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}

	root := template.New("gotpl").Option("missingkey=zero").Funcs(funcMap())
	counts := map[string]int{}
	bindEngineFuncs(root, counts)
	for _, f := range files {
		if _, err := root.New(f.name).Parse(f.data); err != nil {
			return "", "", fmt.Errorf("parse error in %v", strings.TrimPrefix(err.Error(), "template: "))
		}
	}

	var out, notes strings.Builder
	basePath := path.Join(meta.Name, "templates")
	for _, f := range files {
		base := path.Base(f.name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		isNotes := base == "NOTES.txt"
		data := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        meta,
			"Capabilities": caps,
			"Template":     map[string]interface{}{"Name": f.name, "BasePath": basePath},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, f.name, data); err != nil {
			return "", "", execError(err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			notes.WriteString(text)
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", f.name, strings.TrimRight(text, "\n"))
	}
	return out.String(), notes.String(), nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: helmrender [NAME] CHART_DIR [-n NAMESPACE] [-f VALUES]... [--set K=V]... "+
		"[--set-string K=V]... [--api-versions G/V]... [--kube-version vX.Y] [--notes]")
	os.Exit(2)
}

func main() {
	o := &options{release: "release-name", namespace: "default", kubeVersion: "v1.28.0"}
	var pos []string
	args := os.Args[1:]
	next := func(i *int, flag string) string {
		if *i+1 >= len(args) {
			fmt.Fprintf(os.Stderr, "helmrender: %s needs a value\n", flag)
			usage()
		}
		*i++
		return args[*i]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		flag, val, hasVal := strings.Cut(a, "=")
		get := func() string {
			if hasVal {
				return val
			}
			return next(&i, flag)
		}
		switch flag {
		case "-n", "--namespace":
			o.namespace = get()
		case "-f", "--values":
			o.valueFiles = append(o.valueFiles, get())
		case "--set", "--set-string":
			arg := get()
			o.sets = append(o.sets, struct {
				arg      string
				asString bool
			}{arg, flag == "--set-string"})
		case "--api-versions", "-a":
			o.apiVersions = append(o.apiVersions, get())
		case "--kube-version":
			o.kubeVersion = get()
		case "--notes":
			o.notes = true
		case "-h", "--help":
			usage()
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintf(os.Stderr, "helmrender: unknown flag %s\n", a)
				usage()
			}
			pos = append(pos, a)
		}
	}
	switch len(pos) {
	case 1:
		o.chartDir = pos[0]
	case 2:
		o.release, o.chartDir = pos[0], pos[1]
	default:
		usage()
	}
	// Helm's release name rule (chartutil.ValidateReleaseName).
	if len(o.release) > 53 || !releaseNameRe.MatchString(o.release) {
		fmt.Fprintf(os.Stderr, "Error: invalid release name %q: names must be lower-case DNS-1123 subdomains of at most 53 characters\n", o.release)
		os.Exit(1)
	}
	manifests, notes, err := render(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(manifests)
	if o.notes && notes != "" {
		fmt.Printf("\nNOTES:\n%s", notes)
	}
}
