// step-ca for the tests: Debian packages step-ca's Go library (golang-github-smallstep-certificates-dev)
// but not its command, so project/compile builds this one-function command against it (GOPATH
// mode, no network). It runs the library's own `step-ca` action with the library's own flags.
package main

import (
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
)

func main() {
	app := cli.NewApp()
	app.Name = "step-ca"
	app.Usage = "the step-ca ACME server, built from Debian's packaged library for bun-acme's tests"
	app.HideHelp = true
	app.Flags = commands.AppCommand.Flags
	app.Action = commands.AppCommand.Action
	if err := app.Run(os.Args); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
