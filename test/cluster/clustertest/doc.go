// Package clustertest gives a test package one real local control plane
// (test/cluster), started in TestMain and stopped after the last test,
// and each test a namespace of its own.
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
//	func TestDeploy(t *testing.T) {
//		c := clustertest.Get(t)
//		ns := clustertest.Namespace(t, c)
//		...
//	}
//
// The programs come from `make cluster-build`. When they are missing, Get
// fails the test under CI=true and skips it elsewhere; under -short no
// cluster starts and Get skips.
package clustertest
