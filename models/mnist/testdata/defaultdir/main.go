// Command defaultdir prints mnist.DefaultDir() or its error. The mnist tests
// build it with `go build` (test binaries record no dependency versions) to
// check the fallback an installed binary uses when the go command is absent.
package main

import (
	"fmt"
	"os"

	"github.com/contrastive-go/contrastive/models/mnist"
)

func main() {
	dir, err := mnist.DefaultDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
