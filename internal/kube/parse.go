package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ParseToleration reads a toleration as KEY[=VALUE][:EFFECT], the way
// `kubectl taint` writes the taint it tolerates: with VALUE it tolerates
// that value only (operator Equal), without it any value (Exists); without
// EFFECT, every effect.
func ParseToleration(s string) (corev1.Toleration, error) {
	t := corev1.Toleration{Operator: corev1.TolerationOpExists}
	rest, effect, hasEffect := strings.Cut(s, ":")
	t.Key, t.Value, _ = strings.Cut(rest, "=")
	if t.Value != "" {
		t.Operator = corev1.TolerationOpEqual
	}
	if hasEffect {
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			t.Effect = e
		default:
			return t, fmt.Errorf("KEY[=VALUE][:EFFECT] with EFFECT NoSchedule, PreferNoSchedule or NoExecute, not %q", effect)
		}
	}
	if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
		return t, fmt.Errorf("KEY[=VALUE][:EFFECT] with a valid taint key; %q: %s", t.Key, errs[0])
	}
	if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
		return t, fmt.Errorf("KEY[=VALUE][:EFFECT] with a valid taint value; %q: %s", t.Value, errs[0])
	}
	return t, nil
}

// ParseLabels parses KEY=VALUE pairs whose keys and values are valid
// Kubernetes label keys and values.
func ParseLabels(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("KEY=VALUE pairs; %q has no '='", kv)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("valid label keys; %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("valid label values; %q: %s", v, errs[0])
		}
		out[k] = v
	}
	return out, nil
}
