package main

// Helpers for reading and comparing Pulumi property maps.
//
// Values arriving from the engine may be wrapped as secrets (the SDK marks the
// whole `connection` object secret, and users may mark any input secret) or be
// unknown during previews. Everything that *reads* an input for execution goes
// through plain(), which strips the secret wrappers; everything that *returns*
// state copies the original PropertyValues so secret wrappers survive.

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// plain removes all secret wrappers (recursively) from v.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return plain(o.Element)
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		return resource.NewObjectProperty(plainMap(v.ObjectValue()))
	default:
		return v
	}
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := make(resource.PropertyMap, len(m))
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// isSet reports whether key is present with a non-null value (unknowns count as set).
func isSet(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return false
	}
	return !plain(v).IsNull()
}

// isUnknown reports whether the value (after removing secrets) contains an unknown.
func isUnknown(v resource.PropertyValue) bool {
	return plain(v).ContainsUnknowns()
}

// getString returns the plain string at key. ok is false when absent or null.
func getString(m resource.PropertyMap, key string) (string, bool, error) {
	v, present := m[resource.PropertyKey(key)]
	if !present {
		return "", false, nil
	}
	v = plain(v)
	switch {
	case v.IsNull():
		return "", false, nil
	case v.IsString():
		return v.StringValue(), true, nil
	case v.IsComputed():
		return "", false, fmt.Errorf("%s is not known yet", key)
	default:
		return "", false, fmt.Errorf("%s must be a string, got %s", key, v.TypeString())
	}
}

// getBool returns the plain bool at key, or def when absent.
func getBool(m resource.PropertyMap, key string, def bool) (bool, error) {
	v, present := m[resource.PropertyKey(key)]
	if !present {
		return def, nil
	}
	v = plain(v)
	switch {
	case v.IsNull():
		return def, nil
	case v.IsBool():
		return v.BoolValue(), nil
	default:
		return def, fmt.Errorf("%s must be a boolean, got %s", key, v.TypeString())
	}
}

// getNumber returns the plain number at key, or def when absent.
func getNumber(m resource.PropertyMap, key string, def float64) (float64, error) {
	v, present := m[resource.PropertyKey(key)]
	if !present {
		return def, nil
	}
	v = plain(v)
	switch {
	case v.IsNull():
		return def, nil
	case v.IsNumber():
		return v.NumberValue(), nil
	default:
		return def, fmt.Errorf("%s must be a number, got %s", key, v.TypeString())
	}
}

// getStringList returns the plain []string at key; ok is false when absent or null.
func getStringList(m resource.PropertyMap, key string) ([]string, bool, error) {
	v, present := m[resource.PropertyKey(key)]
	if !present {
		return nil, false, nil
	}
	v = plain(v)
	if v.IsNull() {
		return nil, false, nil
	}
	if !v.IsArray() {
		return nil, false, fmt.Errorf("%s must be a list of strings, got %s", key, v.TypeString())
	}
	var out []string
	for i, e := range v.ArrayValue() {
		if !e.IsString() {
			return nil, false, fmt.Errorf("%s[%d] must be a string, got %s", key, i, e.TypeString())
		}
		out = append(out, e.StringValue())
	}
	return out, true, nil
}

// getStringMap returns the plain map[string]string at key (nil when absent).
func getStringMap(m resource.PropertyMap, key string) (map[string]string, error) {
	v, present := m[resource.PropertyKey(key)]
	if !present {
		return nil, nil
	}
	v = plain(v)
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be a map of strings, got %s", key, v.TypeString())
	}
	out := map[string]string{}
	for k, e := range v.ObjectValue() {
		switch {
		case e.IsString():
			out[string(k)] = e.StringValue()
		case e.IsNull():
			// a null entry behaves like an absent one
		default:
			return nil, fmt.Errorf("%s[%q] must be a string, got %s", key, string(k), e.TypeString())
		}
	}
	return out, nil
}

// secretStrings collects every string leaf that sits under a secret wrapper.
func secretStrings(v resource.PropertyValue, underSecret bool, out *[]string) {
	switch {
	case v.IsSecret():
		secretStrings(v.SecretValue().Element, true, out)
	case v.IsOutput():
		o := v.OutputValue()
		secretStrings(o.Element, underSecret || o.Secret, out)
	case v.IsString():
		if underSecret {
			*out = append(*out, v.StringValue())
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			secretStrings(e, underSecret, out)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			secretStrings(e, underSecret, out)
		}
	}
}

// valuesEqual compares two values ignoring secret wrappers. Unknowns are never equal.
func valuesEqual(a, b resource.PropertyValue) bool {
	pa, pb := plain(a), plain(b)
	if pa.ContainsUnknowns() || pb.ContainsUnknowns() {
		return false
	}
	// Treat an absent value and an explicit null the same way.
	if pa.IsNull() && pb.IsNull() {
		return true
	}
	return pa.DeepEquals(pb)
}

// changedKeys lists the input keys whose values differ between olds and news.
func changedKeys(olds, news resource.PropertyMap, keys []string) []string {
	var changed []string
	for _, k := range keys {
		pk := resource.PropertyKey(k)
		ov, ook := olds[pk]
		nv, nok := news[pk]
		if !ook {
			ov = resource.NewNullProperty()
		}
		if !nok {
			nv = resource.NewNullProperty()
		}
		if !valuesEqual(ov, nv) {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// onlyInputs returns the subset of m restricted to keys.
func onlyInputs(m resource.PropertyMap, keys []string) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range keys {
		if v, ok := m[resource.PropertyKey(k)]; ok {
			out[resource.PropertyKey(k)] = v
		}
	}
	return out
}
