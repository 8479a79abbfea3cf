package graph

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	G "gorgonia.org/gorgonia"
)

// tapeRunall is Gorgonia v0.9.18's unexported (*tapeMachine).runall: the
// loop that executes a compiled tape from its program counter to the end,
// reporting an error on errChan or completion on doneChan.
//
//go:linkname tapeRunall gorgonia.org/gorgonia.(*tapeMachine).runall
func tapeRunall(m unsafe.Pointer, errChan chan error, doneChan chan struct{})

// Run runs vm to the end, as vm.RunAll does, but on the calling goroutine.
//
// Gorgonia's TapeMachine.RunAll locks the calling goroutine to its OS
// thread and starts a new goroutine to execute the tape, so every call
// hands the processor from one OS thread to another and back. When several
// machines run at once on few cores (the data-parallel replicas of
// models), each handoff waits for the OS scheduler to run the woken thread,
// sometimes for milliseconds. Run executes the same tape loop directly.
// Any other VM, or a tape machine with closures queued for bound dual
// values, falls back to RunAll.
func Run(vm G.VM) error {
	if !isTapeMachine(vm) || queuedClosures(vm) {
		return vm.RunAll()
	}
	errc := make(chan error, 1)
	done := make(chan struct{}, 1)
	tapeRunall(reflect.ValueOf(vm).UnsafePointer(), errc, done)
	select {
	case err := <-errc:
		return err
	case <-done:
	}
	if w, ok := vm.(interface{ DoWork() error }); ok {
		if err := w.DoWork(); err != nil {
			return fmt.Errorf("graph: %w", err)
		}
	}
	return nil
}

// isTapeMachine reports whether vm is Gorgonia's *tapeMachine.
func isTapeMachine(vm G.VM) bool {
	t := reflect.TypeOf(vm)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Name() == "tapeMachine" && t.Elem().PkgPath() == "gorgonia.org/gorgonia"
}

// closureField is the index of the tape machine's closureQueue field,
// looked up once (nil: no such field) rather than by name on every run.
var closureField struct {
	once  sync.Once
	index []int
}

// queuedClosures reports whether the tape machine vm has closures queued
// (or no closureQueue field at all, a Gorgonia this was not written for).
func queuedClosures(vm G.VM) bool {
	v := reflect.ValueOf(vm).Elem()
	closureField.once.Do(func() {
		if f, ok := v.Type().FieldByName("closureQueue"); ok {
			closureField.index = f.Index
		}
	})
	if closureField.index == nil {
		return true
	}
	return v.FieldByIndex(closureField.index).Len() > 0
}
