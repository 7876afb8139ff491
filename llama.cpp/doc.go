// Package llamacpp holds no code: llama.cpp/PIN names the llama.cpp and ggml
// sources h2o builds against and llama.cpp/patches our patch series on top
// of them. Its test checks the series (scripts/patches.sh verify).
package llamacpp
