// Package models holds encoders that compose with any loss node, the
// training loop, inference, and save/load.
//
// # Encoders
//
// A Model is a Config plus weights that live outside any graph. Build binds
// them into a graph for batches of a fixed size (the weight nodes share the
// model's memory), with an Input node of shape B×Inputs() and an Embeddings
// node of shape B×Dim:
//
//	MLP      flatten → [Linear → ReLU]×len(Hidden) → Linear(Dim)
//	ConvNet  [Conv k×k (valid) → ReLU → MaxPool 2×2]×len(Hidden) → flatten → Linear(Dim)
//
// optionally followed by L2 normalisation. Initialisation is deterministic
// from Config.Seed: He-normal before ReLU (He et al. 2015), Glorot-normal for
// the projection (Glorot & Bengio 2010), zero biases. float32 by default.
//
// # Training
//
// Train builds the graph once (encoder + loss + optional miner inside the
// loss + gradients), then per batch of P classes × K samples (mining.PKSampler)
// binds the inputs and labels with G.Let, runs forward and backward, and steps
// the solver (Adam by default; SGD with momentum; L2 weight decay). It reports
// a Progress after every step, stops cleanly between steps when its context
// is done, and refuses a non-finite loss instead of writing NaN into the
// weights. Before every update it also checks that each gradient is finite
// and that the update leaves every weight and optimizer moment finite, and
// otherwise changes nothing and names the parameter. NewTrainer refuses a
// NaN or infinite weight decay or momentum, a learning rate above
// MaxLearnRate, and a configuration whose TrainingMemory estimate exceeds
// TrainConfig.MemoryLimit (DefaultMemoryLimit, 8 GiB), saying how much it
// would need. Trainer is the same loop one step at a time.
//
// # Inference and persistence
//
// Embed runs a forward-only graph over a whole data set in batches, the last
// partial batch padded and trimmed. Save writes the weights in the
// safetensors format with the architecture and a format version in its
// metadata; Load checks the configuration (MaxParams) and the names, shapes,
// dtypes and finiteness of the file's tensors against the architecture
// before it allocates anything. WriteCheckpoint and ReadCheckpoint are the
// format layer underneath: the data section carries a CRC-32C in the
// metadata (MetaChecksum), verified on reading when present; saves are
// atomic, and the leftovers of a save killed midway are removed by the next
// save of the same file.
//
// Package eval (models/eval) computes retrieval metrics on the embeddings.
package models
