package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Manifests are the objects a run applies: the loader's, and each
// target's (applied in turn, one target at a time).
type Manifests struct {
	Loader  []runtime.Object
	Targets map[string][]runtime.Object
}

// Build is every object of run for targets, each validated (Validate).
func Build(run Run, targets []Target) (Manifests, error) {
	m := Manifests{Loader: run.LoaderObjects(), Targets: map[string][]runtime.Object{}}
	var errs []error
	for _, o := range m.Loader {
		errs = append(errs, Validate(o))
	}
	for _, t := range targets {
		m.Targets[t.Name] = run.TargetObjects(t)
		for _, o := range m.Targets[t.Name] {
			errs = append(errs, Validate(o))
		}
	}
	return m, errors.Join(errs...)
}

// WriteManifests writes dir/loader.yaml and dir/<target>.yaml, each the
// objects in the order they are applied as one multi-document YAML file
// (kubectl apply -f takes either), and returns their paths.
func WriteManifests(dir string, m Manifests) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	files := map[string][]runtime.Object{"loader": m.Loader}
	for name, objs := range m.Targets {
		files["target-"+name] = objs
	}
	var paths []string
	for name, objs := range files {
		path := filepath.Join(dir, name+".yaml")
		b, err := encodeYAML(objs)
		if err != nil {
			return nil, fmt.Errorf("dry run: %s: %w", path, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("dry run: %w", err)
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths, nil
}

const docSeparator = "---\n"

func encodeYAML(objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", kindOf(o), err)
		}
		buf.WriteString(docSeparator)
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// ReadManifests reads a multi-document YAML file into the API's typed
// objects with client-go's universal deserializer: what the API server
// would decode.
func ReadManifests(path string) ([]runtime.Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := scheme.Codecs.UniversalDeserializer()
	var out []runtime.Object
	for i, doc := range strings.Split("\n"+string(b), "\n"+docSeparator) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		o, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		out = append(out, o)
	}
	return out, nil
}
