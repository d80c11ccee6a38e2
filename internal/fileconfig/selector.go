package fileconfig

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// The sizes LabelSelector's CRD schema allows.
const maxMatchLabels, maxExpressions, maxValues = 64, 32, 64

// parseSelector turns git-controller's selector string into our structured selector. Nil means
// every object.
func parseSelector(path, s string) (*configv1alpha1.LabelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parsed, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid selector %q: %w", path, s, err)
	}
	requirements, _ := parsed.Requirements()
	out := &configv1alpha1.LabelSelector{}
	for _, r := range requirements {
		values := r.Values().List()
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			// matchLabels reads the way the file was written; a key can be there only once,
			// so `a=1,a=2` keeps its second term as an expression.
			if _, taken := out.MatchLabels[r.Key()]; len(values) == 1 && !taken {
				if out.MatchLabels == nil {
					out.MatchLabels = map[string]string{}
				}
				out.MatchLabels[r.Key()] = values[0]
				continue
			}
			op = metav1.LabelSelectorOpIn
		case selection.NotEquals, selection.NotIn:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			symbol := map[selection.Operator]string{selection.GreaterThan: ">", selection.LessThan: "<"}[r.Operator()]
			return nil, fmt.Errorf("%s: %q: our label selectors cannot compare with %s (only =, ==, !=, in, notin, exists and !)", path, s, symbol)
		}
		expression := configv1alpha1.LabelSelectorRequirement{Key: r.Key(), Operator: string(op)}
		if op == metav1.LabelSelectorOpIn || op == metav1.LabelSelectorOpNotIn {
			if len(values) > maxValues {
				return nil, fmt.Errorf("%s: %q lists %d values for %s, more than %d", path, s, len(values), r.Key(), maxValues)
			}
			expression.Values = values
		}
		out.MatchExpressions = append(out.MatchExpressions, expression)
	}
	if len(out.MatchLabels) > maxMatchLabels || len(out.MatchExpressions) > maxExpressions {
		return nil, fmt.Errorf("%s: %q has more terms than a label selector holds (%d key=value and %d others)", path, s, maxMatchLabels, maxExpressions)
	}
	return out, nil
}
