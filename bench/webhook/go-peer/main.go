// go-peer — the EtcdCluster admission webhook written the way its users would
// otherwise write it: Go's standard library only (net/http, encoding/json,
// crypto/tls), typed structs, one handler per endpoint. It exists to be
// measured against build/etcd-webhook in bench/webhook/run.sh, so it applies
// the same rules (shared/policy/, ported line for line where they bear on
// the answer) and gives the same responses, including one log line per review.
//
// Flags mirror etcd-webhook's: --tls-cert-file, --tls-private-key-file,
// --secure-port, --bind-address.
package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	annTarget   = "etcd.k8s-operator.io/target-replicas"
	minReplicas = 1
	maxReplicas = 9
	defVersion  = "3.5.17"
	maxBody     = 3 << 20
)

// ---- the objects ---------------------------------------------------------

type member struct {
	Name    string `json:"name"`
	Learner bool   `json:"learner"`
	Healthy bool   `json:"healthy"`
}

type scaling struct {
	From int    `json:"from"`
	To   int    `json:"to"`
	Step string `json:"step"`
}

type clusterStatus struct {
	Phase              string   `json:"phase"`
	ObservedGeneration int64    `json:"observedGeneration"`
	Replicas           int      `json:"replicas"`
	ReadyReplicas      int      `json:"readyReplicas"`
	Members            []member `json:"members"`
	Scaling            *scaling `json:"scaling"`
}

type clusterSpec struct {
	Replicas *int64 `json:"replicas"`
	Version  string `json:"version"`
	Storage  struct {
		Size             string  `json:"size"`
		StorageClassName *string `json:"storageClassName"`
	} `json:"storage"`
	ClusterDomain string `json:"clusterDomain"`
}

type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Generation  int64             `json:"generation"`
	Annotations map[string]string `json:"annotations"`
}

type etcdCluster struct {
	Kind     string        `json:"kind"`
	Metadata objectMeta    `json:"metadata"`
	Spec     clusterSpec   `json:"spec"`
	Status   clusterStatus `json:"status"`
}

type scaleObj struct {
	Kind     string     `json:"kind"`
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Replicas int64 `json:"replicas"`
	} `json:"spec"`
	Status struct {
		Replicas int `json:"replicas"`
	} `json:"status"`
}

type admissionRequest struct {
	UID         string                    `json:"uid"`
	Operation   string                    `json:"operation"`
	SubResource string                    `json:"subResource"`
	Name        string                    `json:"name"`
	Namespace   string                    `json:"namespace"`
	Resource    struct{ Resource string } `json:"resource"`
	Object      json.RawMessage           `json:"object"`
	OldObject   json.RawMessage           `json:"oldObject"`
	DryRun      bool                      `json:"dryRun"`
}

type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type status struct {
	Metadata struct{} `json:"metadata"`
	Status   string   `json:"status"`
	Code     int      `json:"code"`
	Reason   string   `json:"reason"`
	Message  string   `json:"message"`
}

type admissionResponse struct {
	UID       string   `json:"uid"`
	Allowed   bool     `json:"allowed"`
	Status    *status  `json:"status,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	PatchType string   `json:"patchType,omitempty"`
	Patch     string   `json:"patch,omitempty"`
}

// ---- the parsed view the rules read (as shared/api/cluster.h) ----------------

const (
	targetNone    = -1
	targetInvalid = -2
)

type view struct {
	name, namespace       string
	generation            int64
	replicas              int64
	target                int64
	targetRaw             string
	version, domain       string
	storageClass          string
	storageClassSet       bool
	phase                 string
	observedGen           int64
	statusReplicas, ready int
	members               []member
	scaling               *scaling
}

func parseTarget(s string) int64 {
	if s == "" || len(s) > 18 {
		return targetInvalid
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return targetInvalid
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

func viewOf(c *etcdCluster) *view {
	v := &view{name: c.Metadata.Name, namespace: c.Metadata.Namespace,
		generation: c.Metadata.Generation, replicas: 3, target: targetNone,
		version: c.Spec.Version, domain: c.Spec.ClusterDomain, phase: c.Status.Phase,
		observedGen: c.Status.ObservedGeneration, statusReplicas: c.Status.Replicas,
		ready: c.Status.ReadyReplicas, members: c.Status.Members, scaling: c.Status.Scaling}
	if c.Spec.Replicas != nil {
		v.replicas = *c.Spec.Replicas
	}
	if raw, ok := c.Metadata.Annotations[annTarget]; ok {
		v.targetRaw = raw
		v.target = parseTarget(raw)
	}
	if v.version == "" {
		v.version = defVersion
	}
	if v.domain == "" {
		v.domain = "cluster.local"
	}
	if sc := c.Spec.Storage.StorageClassName; sc != nil {
		v.storageClass, v.storageClassSet = *sc, true
	}
	return v
}

func viewOfScale(s *scaleObj) *view {
	return &view{name: s.Metadata.Name, namespace: s.Metadata.Namespace,
		replicas: s.Spec.Replicas, target: targetNone, version: defVersion,
		domain: "cluster.local", statusReplicas: s.Status.Replicas}
}

// ---- the rules (shared/policy/) ----------------------------------------

type decision struct {
	allowed                 bool
	reason                  string
	warnings                []string
	patchReplicas           bool
	replicas                int64
	patchTarget, dropTarget bool
	target                  int64
}

func inRange(n int64) bool { return n >= minReplicas && n <= maxReplicas }

func sign(v int64) int64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func quorum(n int) int { return n/2 + 1 }
func tolerance(n int) int {
	if n <= 0 {
		return 0
	}
	return (n - 1) / 2
}

func settled(c *view) bool {
	return c.observedGen == c.generation && c.phase == "Running" && int64(c.ready) == c.replicas
}

func settledSize(c *view) int64 {
	if settled(c) {
		return c.replicas
	}
	if c.scaling != nil && inRange(int64(c.scaling.From)) {
		return int64(c.scaling.From)
	}
	if inRange(int64(c.statusReplicas)) {
		return int64(c.statusReplicas)
	}
	return c.replicas
}

func currentSize(c *view) int64 {
	if inRange(c.replicas) {
		return c.replicas
	}
	if inRange(int64(c.statusReplicas)) {
		return int64(c.statusReplicas)
	}
	return minReplicas
}

func stagedPath(from, to int64) string {
	dir := int64(1)
	if to < from {
		dir = -1
	}
	dist := (to - from) * dir
	var b strings.Builder
	b.WriteString(strconv.FormatInt(from, 10))
	if dist <= 4 {
		for i := int64(1); i <= dist; i++ {
			fmt.Fprintf(&b, " → %d", from+dir*i)
		}
	} else {
		fmt.Fprintf(&b, " → %d → … → %d", from+dir, to)
	}
	return b.String()
}

func (d *decision) warn(format string, a ...interface{}) {
	if len(d.warnings) >= 4 {
		return
	}
	w := fmt.Sprintf(format, a...)
	for len(w) > 120 {
		w = w[:len(w)-1]
	}
	d.warnings = append(d.warnings, w)
}

func (d *decision) refuse(format string, a ...interface{}) {
	if !d.allowed {
		return
	}
	d.allowed = false
	d.reason = fmt.Sprintf(format, a...)
}

func mutate(op string, o, n *view) decision {
	d := decision{allowed: true}
	if n == nil || (op == "UPDATE" && o == nil) {
		return d
	}
	spec, t := n.replicas, n.target
	hasT := t != targetNone
	if !inRange(spec) || t == targetInvalid || (hasT && !inRange(t)) {
		return d
	}
	var cur, back int64
	isSettled := true
	if o != nil {
		cur, isSettled, back = currentSize(o), settled(o), settledSize(o)
	}
	staged := hasT && (spec == cur || spec == cur+sign(t-cur))
	want := spec
	if staged {
		want = t
	}
	var final int64
	switch {
	case !isSettled:
		final = cur
		if spec == back {
			final = back
		}
	case staged:
		final = spec
	case want-cur >= -1 && want-cur <= 1:
		final = want
	default:
		final = cur + sign(want-cur)
	}
	if final != spec {
		d.patchReplicas, d.replicas = true, final
	}
	if want != final {
		if !hasT || t != want || n.targetRaw != strconv.FormatInt(want, 10) {
			d.patchTarget, d.target = true, want
		}
	} else if hasT {
		d.dropTarget = true
	}
	if !d.patchReplicas && !d.patchTarget {
		return d
	}
	from := final
	if isSettled && o != nil {
		from = cur
	}
	if isSettled {
		d.warn("spec.replicas: staged %s, one member at a time; set to %d now, the operator continues",
			stagedPath(from, want), final)
	} else {
		d.warn("spec.replicas: held at %d until the change in flight settles; the operator then continues %s",
			final, stagedPath(from, want))
	}
	return d
}

func scaleCmd(c *view, n int64) string {
	name := c.name
	if name == "" {
		name = "NAME"
	}
	if c.namespace != "" && c.namespace != "default" {
		return fmt.Sprintf("kubectl etcd scale %s -n %s --replicas %d", name, c.namespace, n)
	}
	return fmt.Sprintf("kubectl etcd scale %s --replicas %d", name, n)
}

func checkRange(d *decision, n int64) bool {
	if inRange(n) {
		return true
	}
	d.refuse("spec.replicas: %d is not a size this operator runs: an etcd cluster here has %d to %d members (more slows every write, since each waits for a quorum). Set spec.replicas between %d and %d",
		n, minReplicas, maxReplicas, minReplicas, maxReplicas)
	return false
}

func warnEven(d *decision, t int64) {
	if t%2 != 0 || !inRange(t) {
		return
	}
	tol := tolerance(int(t))
	s := "s"
	if tol == 1 {
		s = ""
	}
	d.warn("spec.replicas: %d members tolerate %d failure%s, no more than %d do; prefer an odd size", t, tol, s, t-1)
}

func targetOf(c *view) int64 {
	if c.target >= 0 {
		return c.target
	}
	return c.replicas
}

type version struct{ major, minor, patch int }

func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(s, "v")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var v [3]int
	for i, p := range parts {
		if p == "" || strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return version{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return version{}, false
		}
		v[i] = n
	}
	return version{v[0], v[1], v[2]}, true
}

func (a version) cmp(b version) int {
	switch {
	case a.major != b.major:
		return sign64(a.major - b.major)
	case a.minor != b.minor:
		return sign64(a.minor - b.minor)
	}
	return sign64(a.patch - b.patch)
}

func sign64(v int) int { return int(sign(int64(v))) }

func unsettledWhy(c *view) string {
	switch {
	case c.scaling != nil && c.scaling.From != c.scaling.To:
		return fmt.Sprintf("a step %d → %d is in flight", c.scaling.From, c.scaling.To)
	case c.phase == "":
		return "the operator has not reported its status yet"
	case c.observedGen != c.generation:
		return fmt.Sprintf("the operator has not acted on the last change yet (generation %d, observed %d)", c.generation, c.observedGen)
	case c.phase != "Running":
		return fmt.Sprintf("status.phase is %s, %d of %d members ready", c.phase, c.ready, c.replicas)
	}
	return fmt.Sprintf("%d of %d members are ready", c.ready, c.replicas)
}

func checkVersion(d *decision, o, n *view) {
	if o != nil && o.version == n.version {
		return
	}
	nv, ok := parseVersion(n.version)
	if !ok {
		d.refuse("spec.version: \"%s\" is not an etcd version. Write MAJOR.MINOR.PATCH, such as %s", n.version, defVersion)
		return
	}
	var ov version
	oldOK := false
	if o != nil {
		ov, oldOK = parseVersion(o.version)
	}
	if oldOK && ov.cmp(nv) == 0 {
		return
	}
	if nv.major != 3 || nv.minor < 4 || nv.minor > 6 {
		d.refuse("spec.version: %s is not a version this operator runs: it knows 3.4.x, 3.5.x and 3.6.x. Pick one of those, such as %s", n.version, defVersion)
		return
	}
	if o == nil {
		return
	}
	if oldOK && nv.cmp(ov) < 0 {
		d.refuse("spec.version: cannot go from %s down to %s: etcd does not downgrade a running cluster (its data format only moves forward). Keep %s, or restore a snapshot into a new cluster of %s",
			o.version, n.version, o.version, n.version)
		return
	}
	if oldOK && (nv.major != ov.major || nv.minor > ov.minor+1) {
		d.refuse("spec.version: cannot go from %s to %s in one change: etcd upgrades one minor version at a time. Upgrade to %d.%d.x first, then to %s",
			o.version, n.version, ov.major, ov.minor+1, n.version)
		return
	}
	pending := n.target >= 0 && n.target != n.replicas
	if !settled(o) || n.replicas != o.replicas || pending {
		var why string
		switch {
		case !settled(o):
			why = unsettledWhy(o)
		case n.replicas != o.replicas:
			why = fmt.Sprintf("this change also moves spec.replicas %d → %d", o.replicas, n.replicas)
		default:
			why = fmt.Sprintf("a staged scale to %d members is under way", n.target)
		}
		d.refuse("spec.version: cannot change %s → %s while the cluster is scaling (%s): a rolling restart during a membership change risks quorum. Wait until `kubectl etcd status %s` shows it Running with every member ready, then change the version",
			o.version, n.version, why, n.name)
	}
}

func checkImmutable(d *decision, o, n *view) {
	show := func(set bool, v string) string {
		if set {
			return "\"" + v + "\""
		}
		return "(unset)"
	}
	if o.storageClassSet != n.storageClassSet || o.storageClass != n.storageClass {
		d.refuse("spec.storage.storageClassName: cannot change from %s to %s: the members' volumes were made from it and a StatefulSet's claims cannot change. Keep it; to move the data, restore a snapshot into a new cluster",
			show(o.storageClassSet, o.storageClass), show(n.storageClassSet, n.storageClass))
	} else if o.domain != n.domain {
		d.refuse("spec.clusterDomain: cannot change from \"%s\" to \"%s\": etcd keeps each member's peer URL, built from it, in its membership. Keep \"%s\"; a new domain needs a new cluster",
			o.domain, n.domain, o.domain)
	}
}

func ordinal(name string) int {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || len(name)-i-1 > 4 {
		return -1
	}
	v := 0
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}

func checkQuorum(d *decision, o *view, cur, want int64) {
	removed, left, healthy := 0, 0, 0
	gone := ""
	if len(o.members) > 0 {
		for _, m := range o.members {
			if m.Learner {
				continue
			}
			ord := ordinal(m.Name)
			if int64(ord) >= want {
				removed++
				gone = m.Name
			} else {
				left++
				if ord >= 0 && m.Healthy {
					healthy++
				}
			}
		}
	} else {
		voters := o.statusReplicas
		if int64(voters) > want {
			removed = voters - int(want)
		}
		left = voters - removed
		healthy = o.ready - removed
		if healthy < 0 {
			healthy = 0
		}
	}
	if removed == 0 || healthy >= quorum(left) {
		return
	}
	who := "removing a member"
	if gone != "" {
		who = "removing " + gone
	}
	s := "s"
	if healthy == 1 {
		s = ""
	}
	d.refuse("spec.replicas: cannot go from %d to %d: %s would leave %d healthy voting member%s, fewer than the quorum of %d for %d. Bring the unhealthy members back first (`kubectl etcd status %s`), then scale down",
		cur, want, who, healthy, s, quorum(left), left, o.name)
}

func checkMove(d *decision, o, n *view) {
	want, cur := n.replicas, currentSize(o)
	if want-cur > 1 || want-cur < -1 {
		d.refuse("spec.replicas: cannot go from %d to %d in one change: etcd membership changes one member at a time. Use \"%s\", or apply replicas %d with the annotation %s: \"%d\" and let the operator continue",
			cur, want, scaleCmd(n, want), cur+sign(want-cur), annTarget, want)
		return
	}
	if !settled(o) {
		back := settledSize(o)
		if want != cur && want != back {
			cancel := ""
			if back != cur {
				cancel = fmt.Sprintf(", or set %d to cancel it", back)
			}
			d.refuse("spec.replicas: cannot go to %d while the cluster is not settled at %d (%s): one membership change at a time. Wait until `kubectl etcd status %s` shows it settled%s",
				want, cur, unsettledWhy(o), n.name, cancel)
			return
		}
	}
	if want < cur {
		checkQuorum(d, o, cur, want)
	}
}

func validateScale(d *decision, o, n *view) {
	want, cur := n.replicas, currentSize(o)
	if want == o.replicas || !checkRange(d, want) {
		return
	}
	name := n.name
	if name == "" {
		name = "the cluster"
	}
	if want-cur > 1 || want-cur < -1 {
		d.refuse("spec.replicas: cannot scale %s from %d to %d through the scale subresource: etcd membership changes one member at a time, and a Scale cannot carry the target annotation that stages a longer change. Use \"%s\"",
			name, cur, want, scaleCmd(n, want))
		return
	}
	voters := o.statusReplicas
	if inRange(int64(voters)) && int64(voters) != cur && want != int64(voters) {
		d.refuse("spec.replicas: cannot scale to %d while %s is changing %d → %d: one membership change at a time. Wait until it has %d members, or scale to %d to cancel",
			want, name, voters, cur, cur, voters)
		return
	}
	warnEven(d, want)
}

func validate(op string, scale bool, o, n *view, d *decision) {
	d.allowed, d.reason = true, ""
	if op == "DELETE" {
		return
	}
	if n == nil {
		d.refuse("object: the request carries no EtcdCluster to check")
		return
	}
	if (op == "UPDATE" || scale) && o == nil {
		extra := ""
		if scale {
			extra = " of the scale subresource"
		}
		d.refuse("oldObject: an UPDATE%s must carry the object it replaces", extra)
		return
	}
	if scale {
		validateScale(d, o, n)
		return
	}
	repChanged := o == nil || n.replicas != o.replicas
	if repChanged && !checkRange(d, n.replicas) {
		return
	}
	if o == nil || n.target != o.target || n.targetRaw != o.targetRaw {
		if n.target == targetInvalid {
			d.refuse("metadata.annotations[%s]: \"%s\" is not a member count. Set it to a number from %d to %d, or remove it", annTarget, n.targetRaw, minReplicas, maxReplicas)
		} else if n.target != targetNone && !inRange(n.target) {
			d.refuse("metadata.annotations[%s]: %d is not a size this operator runs (%d to %d members). Set it between %d and %d, or remove it", annTarget, n.target, minReplicas, maxReplicas, minReplicas, maxReplicas)
		}
	}
	checkVersion(d, o, n)
	if o != nil {
		checkImmutable(d, o, n)
	}
	if !d.allowed {
		return
	}
	if o == nil {
		if n.replicas > minReplicas {
			d.refuse("spec.replicas: cannot create a cluster of %d members in one change: a new etcd cluster starts with one member and grows one at a time. Create it with replicas 1 and the annotation %s: \"%d\" (the mutating webhook does this when it is installed)",
				n.replicas, annTarget, n.replicas)
			return
		}
	} else if repChanged {
		checkMove(d, o, n)
		if !d.allowed {
			return
		}
	}
	if o == nil || targetOf(n) != targetOf(o) {
		warnEven(d, targetOf(n))
	}
}

// ---- JSON Patch ------------------------------------------------------------

type patchOp struct {
	Op    string      `json:"op"`
	Path  string      `json:"path"`
	Value interface{} `json:"value,omitempty"`
}

func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func buildPatch(d *decision, raw json.RawMessage) []patchOp {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj)
	var spec, meta map[string]json.RawMessage
	_ = json.Unmarshal(obj["spec"], &spec)
	_ = json.Unmarshal(obj["metadata"], &meta)
	var ann map[string]string
	_ = json.Unmarshal(meta["annotations"], &ann)
	var ops []patchOp
	if d.patchReplicas {
		if spec != nil {
			op := "add"
			if _, ok := spec["replicas"]; ok && string(spec["replicas"]) != "null" {
				op = "replace"
			}
			ops = append(ops, patchOp{op, "/spec/replicas", d.replicas})
		} else {
			ops = append(ops, patchOp{"add", "/spec", map[string]int64{"replicas": d.replicas}})
		}
	}
	_, hasKey := ann[annTarget]
	if d.patchTarget {
		val := strconv.FormatInt(d.target, 10)
		switch {
		case ann != nil:
			op := "add"
			if hasKey {
				op = "replace"
			}
			ops = append(ops, patchOp{op, "/metadata/annotations/" + escapeToken(annTarget), val})
		case meta != nil:
			ops = append(ops, patchOp{"add", "/metadata/annotations", map[string]string{annTarget: val}})
		default:
			ops = append(ops, patchOp{"add", "/metadata", map[string]interface{}{"annotations": map[string]string{annTarget: val}}})
		}
	} else if d.dropTarget && hasKey {
		ops = append(ops, patchOp{Op: "remove", Path: "/metadata/annotations/" + escapeToken(annTarget)})
	}
	return ops
}

// ---- HTTP ------------------------------------------------------------------

func decodeObj(raw json.RawMessage, scale bool, what string) (*view, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%s: object: expected an EtcdCluster object, got nothing", what)
	}
	if scale {
		var s scaleObj
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		return viewOfScale(&s), nil
	}
	var c etcdCluster
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if c.Kind != "" && c.Kind != "EtcdCluster" {
		return nil, fmt.Errorf("%s: kind: expected EtcdCluster, got %q", what, c.Kind)
	}
	return viewOf(&c), nil
}

func review(w http.ResponseWriter, r *http.Request, mutating bool) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed: use POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	var ar admissionReview
	if err := json.Unmarshal(body, &ar); err != nil || ar.Kind != "AdmissionReview" || ar.Request == nil || ar.Request.UID == "" || ar.Request.Operation == "" {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	req := ar.Request
	d := decision{allowed: true}
	code := 403
	scale := req.SubResource == "scale"
	var o, n *view
	var derr error
	relevant := (req.Resource.Resource == "" || req.Resource.Resource == "etcdclusters") &&
		(req.SubResource == "" || scale) &&
		(req.Operation == "CREATE" || req.Operation == "UPDATE" || req.Operation == "DELETE")
	if relevant && req.Operation != "DELETE" {
		n, derr = decodeObj(req.Object, scale, "request.object")
	}
	if relevant && derr == nil && req.Operation == "UPDATE" {
		o, derr = decodeObj(req.OldObject, scale, "request.oldObject")
	}
	resp := &admissionResponse{UID: req.UID}
	switch {
	case !relevant:
	case derr != nil:
		d = decision{allowed: false, reason: derr.Error() + ". The webhook reads EtcdCluster etcd.k8s-operator.io/v1alpha1; fix the object and apply it again"}
		code = 400
	case mutating:
		if !scale && req.Operation != "DELETE" {
			d = mutate(req.Operation, o, n)
			if ops := buildPatch(&d, req.Object); len(ops) > 0 {
				p, _ := json.Marshal(ops)
				resp.PatchType = "JSONPatch"
				resp.Patch = base64.StdEncoding.EncodeToString(p)
			}
		}
	default:
		validate(req.Operation, scale, o, n, &d)
	}
	resp.Allowed = d.allowed
	resp.Warnings = d.warnings
	if !d.allowed {
		reason := "Forbidden"
		if code == 400 {
			reason = "BadRequest"
		}
		resp.Status = &status{Status: "Failure", Code: code, Reason: reason, Message: d.reason}
	}
	apiVersion := ar.APIVersion
	if apiVersion == "" {
		apiVersion = "admission.k8s.io/v1"
	}
	out, _ := json.Marshal(admissionReview{APIVersion: apiVersion, Kind: "AdmissionReview", Response: resp})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
	decisionName := "allowed"
	if !d.allowed {
		decisionName = "denied"
	}
	log.Printf("review uid=%q op=%s subresource=%q namespace=%q name=%q decision=%s patched=%t latency_us=%d",
		req.UID, req.Operation, req.SubResource, req.Namespace, req.Name, decisionName,
		resp.Patch != "", time.Since(start).Microseconds())
}

func main() {
	cert := flag.String("tls-cert-file", "", "PEM certificate")
	key := flag.String("tls-private-key-file", "", "PEM key")
	port := flag.Int("secure-port", 9443, "HTTPS port")
	bind := flag.String("bind-address", "0.0.0.0", "address")
	flag.Parse()
	// Reload-on-change, as the C server does, through GetCertificate.
	var loaded struct {
		sync.Mutex
		c         *tls.Certificate
		mod       time.Time
		lastCheck time.Time
	}
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		loaded.Lock()
		defer loaded.Unlock()
		if loaded.c != nil && time.Since(loaded.lastCheck) < time.Second {
			return loaded.c, nil
		}
		loaded.lastCheck = time.Now()
		st, err := os.Stat(*cert)
		if err == nil && (loaded.c == nil || st.ModTime() != loaded.mod) {
			if c, err := tls.LoadX509KeyPair(*cert, *key); err == nil {
				loaded.c, loaded.mod = &c, st.ModTime()
			}
		}
		return loaded.c, nil
	}
	if _, err := getCert(nil); err != nil || loaded.c == nil {
		log.Fatalf("cannot load %s / %s", *cert, *key)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", func(w http.ResponseWriter, r *http.Request) { review(w, r, true) })
	mux.HandleFunc("/validate", func(w http.ResponseWriter, r *http.Request) { review(w, r, false) })
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/readyz", ok)
	srv := &http.Server{
		Addr:      net.JoinHostPort(*bind, strconv.Itoa(*port)),
		Handler:   mux,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCert},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("serving address=%s", srv.Addr)
	if err := srv.ListenAndServeTLS("", ""); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
