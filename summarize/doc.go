// Package summarize is the summarization task of the H2O authors' recipe
// (FMInference/H2O h2o_hf/run_summarization.py): it reads the request JSONL
// (article, summary_gt, max_tokens, temperature, top_p, n, stop), generates
// a summary per request with a session under a cache policy, scores it with
// ROUGE exactly as pltrdy's rouge does and writes the recipe's output lines.
//
// Differences from the recipe, on purpose:
//   - The text is cut at the first stop string by the session. The recipe
//     slices text[:text.find(stop[0])], which drops the last character when
//     the stop string is absent (find returns -1); that is not reproduced.
//   - An empty generation does not crash the run (see EmptyPolicy).
//   - Each line is appended as soon as its sample is done, so an interrupted
//     run can be resumed (Open), where the recipe writes everything at the end.
//   - Sample i is sampled with seed + i (the recipe seeds torch once), so a
//     resumed run draws the same tokens as an uninterrupted one.
//   - finish_reason and request_time.batch_time are the real ones; tokens are
//     decoded pieces, token_logprobs the sampled tokens' log-probabilities
//     under the raw logits (the recipe logs the argmax's after temperature),
//     top_logprobs one map per position (the recipe writes one map in all).
//
// A "h2o" object per line adds the sample's ROUGE P/R/F, cache statistics,
// timings and the policy.
package summarize
