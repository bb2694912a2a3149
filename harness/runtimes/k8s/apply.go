package k8s

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// create creates each object, in order, and returns them as the API
// server answered (a ConfigMap's resourceVersion is needed to update it).
func create(ctx context.Context, cs kubernetes.Interface, objs []runtime.Object) ([]runtime.Object, error) {
	out := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		got, err := createOne(ctx, cs, o)
		if err != nil {
			return out, err
		}
		out = append(out, got)
	}
	return out, nil
}

func createOne(ctx context.Context, cs kubernetes.Interface, o runtime.Object) (runtime.Object, error) {
	m, err := meta.Accessor(o)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", kindOf(o), err)
	}
	ns, opts := m.GetNamespace(), metav1.CreateOptions{}
	var got runtime.Object
	switch v := o.(type) {
	case *corev1.Pod:
		got, err = cs.CoreV1().Pods(ns).Create(ctx, v, opts)
	case *corev1.Service:
		got, err = cs.CoreV1().Services(ns).Create(ctx, v, opts)
	case *corev1.ConfigMap:
		got, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, v, opts)
	case *corev1.ServiceAccount:
		got, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, v, opts)
	case *rbacv1.Role:
		got, err = cs.RbacV1().Roles(ns).Create(ctx, v, opts)
	case *rbacv1.RoleBinding:
		got, err = cs.RbacV1().RoleBindings(ns).Create(ctx, v, opts)
	case *batchv1.Job:
		got, err = cs.BatchV1().Jobs(ns).Create(ctx, v, opts)
	default:
		return nil, fmt.Errorf("create: no client for %T", o)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s %s/%s: %w", kindOf(o), ns, m.GetName(), err)
	}
	return got, nil
}

func kindOf(o runtime.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", o)
}
