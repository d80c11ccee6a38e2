// Package fileconfig reads the configuration file of git-controller, the project this one
// succeeds, and translates it into our rules, so that its users can carry their setup over.
//
// The file has two lists. `kinds` names each kind with its group and the version to use;
// `rules` select resources by API group, plural name and label selector, narrow them to fields
// with JSON pointers, and say whether they sync to git or to kubernetes. Parse validates both
// lists and turns each rule into a configv1alpha1.ResourceRule that our CRDs accept; every error
// is one line that names the field by its path, such as `rules[1].syncTo`.
//
// git-controller's rules name no versions, so a rule's APIVersions come from the kinds of its
// groups, and a missing syncTo means git, which is our API's default.
package fileconfig
