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
//	ConvNet with Dense > 0 (DefaultHybrid)
//	         [conv blocks → flatten | flatten → Linear(Dense) → ReLU] concatenated → Linear(Dim)
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
// A loss with learnable parameters of its own (ParamLoss: proxies, class
// weights; losses.ProxyAnchor and the others) is trained with the encoder:
// Train initialises its parameters when it has none, the gradient covers
// them, and they are stepped by the same kind of solver at
// TrainConfig.LossLearnRate. SaveLoss and LoadLoss keep them in the
// checkpoint with the model.
//
// # State across steps
//
// A loss may keep state between steps: the Trainer calls BeforeStep(x,
// labels) of a loss that implements BeforeStepper before the forward pass,
// and AfterStep of one that implements AfterStepper after every optimiser
// step (never after a refused step). losses.XBM (cross-batch memory) and
// MoCo (He et al. 2020: a momentum key encoder θ_k ← m·θ_k + (1 − m)·θ_q
// and a queue of its keys as the reference set of a losses.Referenced
// loss) use them.
//
// # Using all cores
//
// TrainConfig.Workers (default runtime.GOMAXPROCS(0)) splits each batch of
// B rows into W consecutive shards of ⌈B/W⌉ or ⌊B/W⌋ rows. Each shard runs
// on its own goroutine through its own replica of the encoder graph (built
// by Model.Build, so every architecture is replicated as it is) and its own
// TapeMachine; the replicas bind views of the same weight tensors. The loss
// and its miner run once, on the whole B×D embedding matrix, so every loss
// and miner works unchanged and mining sees all B×B pairs. A forward-only
// op at the end of each replica hands its embeddings to the loss graph and
// waits for ∂L/∂E, then the replica's backward pass continues from its rows
// of ∂L/∂E: the encoder runs forward once per step. Parameter gradients are
// summed over the replicas in a fixed order before the one solver step, so
// a run is bit-identical for a given W and agrees with W = 1 to float
// rounding. A shard or loss that fails, or a context cancelled during a
// step (Trainer.StepContext; Train passes its context), ends the step with
// an error and the weights untouched; every goroutine of a step has ended
// when the step returns.
//
// TrainConfig.ChunkSize turns on gradient caching (Gao et al. 2021,
// "Scaling Deep Contrastive Learning Batch Size under Memory Limited
// Setup"): the batch is embedded in chunks by forward-only graphs that keep
// no activations, the loss and ∂L/∂E are computed on the whole batch, and
// each chunk is run again forward and backward with its rows of ∂L/∂E. The
// encoder's memory grows with the chunk size instead of B; the loss's own
// B×B matrices do not shrink.
//
// # Beyond one process
//
// TrainConfig.Comm makes training distributed over N processes (package
// models/mpi, built with -tags mpi, provides a Comm over Open MPI). Rank r
// trains on data shard r (samples i with i mod N = r) with its own P×K
// batches and workers; before the loss runs, the ranks' embeddings and
// labels are all-gathered, so the loss and its miner see the global batch
// of N·P·K rows (as SimCLR, CLIP and SupCon do with torch.distributed);
// each rank's replicas take back their rows of ∂L/∂E, the summed parameter
// gradients are all-reduced, and every rank takes the same solver step from
// rank 0's broadcast initial weights. A single process with
// TrainConfig.Shards = N draws the same global batches, and ends at the
// same weights to float rounding (TestDistributedTrainMatchesOneProcess
// here, over a shared-memory Comm; models/mpi's tests under mpirun).
//
// Embed and Embedder run batches on a pool of forward-only machines, one per
// worker; the embeddings do not depend on the number of workers, and
// concurrent calls on one model are safe.
//
// Gorgonia v0.9.18 numbers the node groups of Conv2d, Rectify and
// MaxPool2D with a global counter, so building graphs from several
// goroutines at once is a data race; this package builds its graphs one at
// a time (running them concurrently is fine). Code that calls Model.Build
// or builds other Gorgonia graphs on its own goroutines must do the same.
//
// # Collapse and the unseen-class split
//
// Every step records BatchStats of the embeddings it already has (no
// second forward pass; an O(B²·D) pass over at most 256 rows): Spread, the
// mean pairwise distance over √2 × the RMS norm (about 1 for random
// directions, 0 when every row is one point), MeanDistance, and Active, the
// share of anchors whose batch-hard triplet is active at
// TrainConfig.StatsMargin. Progress carries them, History.Stats keeps them
// and History.Collapse summarises a run; a batch with Spread below
// CollapseSpread counts as collapsed (Hermans et al. 2017; Xuan et al.
// 2020). SplitClasses builds the unseen-class protocol: train on the first
// half of the classes, retrieve the test images of the other half among the
// training images of that half.
//
// # Inference and persistence
//
// Embed runs forward-only graphs over a whole data set in batches on all
// cores, the last partial batch padded and trimmed; an Embedder keeps the
// compiled machines warm between calls. Save writes the weights in the
// safetensors format with the architecture and a format version in its
// metadata; Load checks the configuration (MaxParams) and the names, shapes,
// dtypes and finiteness of the file's tensors against the architecture
// before it allocates anything. Package checkpoint (models/checkpoint) is the
// format layer underneath: the data section carries a CRC-32C in the
// metadata (checkpoint.MetaChecksum), verified on reading when present; saves are
// atomic, and the leftovers of a save killed midway are removed by the next
// save of the same file.
//
// Package eval (models/eval) computes retrieval metrics on the embeddings.
package models
