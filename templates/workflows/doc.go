// Package workflows renders the files `ferry init` writes into a model
// repository: its GitHub workflows and a commented ferry.yaml, from
// templates embedded here, delimited by [[ ]] so that GitHub's ${{ }}
// passes through.
package workflows
