// Package stream is the "infinite" streaming demo of the H2O recipe
// (h2o_hf/run_streaming.py): every turn of every MT-Bench question is
// appended to one growing conversation, answered greedily, and the KV cache
// either keeps its budget (h2o, window, sink) or grows until it is full
// (full). It loads the questions, assembles the prompts, drives a session
// and reports progress and per-sample statistics.
package stream
