package k8s

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// CleanupTimeout bounds a cleanup, which runs on a context of its own: the
// run's may be cancelled already (Ctrl-C) and the objects must go anyway.
const CleanupTimeout = 60 * time.Second

// Cleanup deletes every object of the run that selector selects (a run's
// RunSelector, or one target's), listing each kind by label and deleting
// what it finds, then waits for the pods to be gone so the next target
// finds its node free. ctx's cancellation is ignored; its values are kept.
func Cleanup(ctx context.Context, cs kubernetes.Interface, namespace, selector string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var errs []error
	for _, k := range kinds(cs, namespace) {
		names, err := k.list(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			errs = append(errs, fmt.Errorf("cleanup: list %s (%s): %w", k.name, selector, err))
			continue
		}
		for _, n := range names {
			if err := k.delete(ctx, n, deleteOptions); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("cleanup: delete %s %s/%s: %w", k.name, namespace, n, err))
			}
		}
	}
	if err := waitPodsGone(ctx, cs, namespace, selector); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteOptions deletes a Job's pods with it (the pods carry the run's
// labels too, and are deleted by their own kind as well).
var deleteOptions = metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)}

// kind is one resource the harness creates: how to list and delete it.
type kind struct {
	name   string
	list   func(context.Context, metav1.ListOptions) ([]string, error)
	delete func(context.Context, string, metav1.DeleteOptions) error
}

// kinds lists what a run creates, the Job first so its controller starts
// no pod while the pods are deleted.
func kinds(cs kubernetes.Interface, ns string) []kind {
	core, rbac, jobs := cs.CoreV1(), cs.RbacV1(), cs.BatchV1().Jobs(ns)
	return []kind{
		{"jobs", listNames(jobs.List), jobs.Delete},
		{"pods", listNames(core.Pods(ns).List), core.Pods(ns).Delete},
		{"services", listNames(core.Services(ns).List), core.Services(ns).Delete},
		{"configmaps", listNames(core.ConfigMaps(ns).List), core.ConfigMaps(ns).Delete},
		{"rolebindings", listNames(rbac.RoleBindings(ns).List), rbac.RoleBindings(ns).Delete},
		{"roles", listNames(rbac.Roles(ns).List), rbac.Roles(ns).Delete},
		{"serviceaccounts", listNames(core.ServiceAccounts(ns).List), core.ServiceAccounts(ns).Delete},
	}
}

// listNames turns a typed client's List into one that gives the names.
func listNames[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) ([]string, error) {
	return func(ctx context.Context, o metav1.ListOptions) ([]string, error) { return names(list(ctx, o)) }
}

// names are the names of a list's items.
func names[L runtime.Object](l L, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range items {
		a, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		out = append(out, a.GetName())
	}
	return out, nil
}

func waitPodsGone(ctx context.Context, cs kubernetes.Interface, ns, selector string) error {
	for {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(l.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			left := 0
			if l != nil {
				left = len(l.Items)
			}
			return fmt.Errorf("cleanup: %d pod(s) of %s still terminating after %s", left, selector, CleanupTimeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
