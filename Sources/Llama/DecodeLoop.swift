import CLlama

/// The engine's thread: owns the llama.cpp context and runs continuous batching over its sequences.
///
/// Each step decodes, in one `llama_decode`, the pending token of every generating sequence plus a slice of the
/// prompts still being evaluated (all of a free batch when nothing is generating; at most `promptChunk` tokens
/// when something is, so a long prompt delays running sequences by one chunk per step instead of its whole
/// length). Requests join between steps when a sequence id is free and leave the moment they end: their KV
/// cells are removed (`llama_memory_seq_rm`) before their task is resumed. A prompt that shares a prefix with a
/// sequence already in the cache copies that KV (`llama_memory_seq_cp`) instead of evaluating it again;
/// identical prompts waiting together cost one evaluation.
///
/// Sequence ids are kept dense (the lowest free id is taken; when a sequence leaves, the highest one moves into
/// its hole) and the batch is laid out in id order: llama.cpp splits a batch over per-sequence KV streams into
/// ubatches of consecutive sequence ids, so a gap would cost a second pass over the weights every step.
final class DecodeLoop: @unchecked Sendable {
    private let model: LlamaModel
    private let ctx: OpaquePointer
    private let memory: llama_memory_t
    private let threadpool: OpaquePointer?
    private let inbox: EngineInbox
    private let contextLength: Int
    private let batchCapacity: Int
    private let promptChunk: Int
    private let vocabularySize: Int
    private var batch: llama_batch
    /// Free sequence ids, highest first (`popLast` takes the lowest).
    private var freeIDs: [Int32]
    private var waiting: [EngineRequest] = []
    /// In admission order: earlier sequences evaluate shared prefixes, later ones copy them.
    private var active: [BatchSequence] = []
    private var stats = EngineStats()

    init(model: LlamaModel, ctx: OpaquePointer, threadpool: OpaquePointer?, inbox: EngineInbox, sequences: Int,
         contextLength: Int, batchCapacity: Int, promptChunk: Int) {
        self.model = model
        self.ctx = ctx
        self.memory = llama_get_memory(ctx)
        self.threadpool = threadpool
        self.inbox = inbox
        self.contextLength = contextLength
        self.batchCapacity = batchCapacity
        self.promptChunk = max(1, promptChunk)
        self.vocabularySize = model.vocabularySize
        self.batch = llama_batch_init(Int32(batchCapacity), 0, 1)
        self.freeIDs = (0..<Int32(sequences)).reversed()
    }

    /// The thread's body: steps until the engine is released, then fails what is left and frees the context.
    func run() {
        while let arrived = inbox.take(idle: active.isEmpty && waiting.isEmpty) {
            waiting.append(contentsOf: arrived)
            step()
        }
        for request in waiting + inbox.drain() { request.finish(.failure(.engineStopped)) }
        for s in active { s.request.finish(.failure(.engineStopped)) }
        waiting = []
        active = []
        llama_batch_free(batch)
        llama_free(ctx)
        if let threadpool { ggml_threadpool_free(threadpool) }
    }

    private func step() {
        let start = monotonicMillis()
        waiting.removeAll { request in
            guard request.isCancelled else { return false }
            request.finishCancelledUnstarted()
            stats.finished += 1
            return true
        }
        for s in active where s.end == nil && s.request.isCancelled { s.end = .success("cancelled") }
        retireEnded()
        while !waiting.isEmpty, let id = freeIDs.popLast() {
            active.append(BatchSequence(id: id, request: waiting.removeFirst(), now: start))
        }
        sharePrefixes()
        retireEnded()
        decodeStep(startedAt: start)
        publish()
    }

    // MARK: the batch

    /// Builds and decodes this step's batch, then samples.
    private func decodeStep(startedAt start: Double) {
        var scheduled: [BatchSequence] = []
        var generating = 0
        for s in active {
            s.output = nil
            s.chunk = 0
            if s.pending != nil {
                scheduled.append(s)
                generating += 1
            }
        }
        var budget = min(batchCapacity - generating, generating == 0 ? batchCapacity : promptChunk)
        for (i, s) in active.enumerated() where s.isPrefilling && budget > 0 {
            if active[..<i].contains(where: { $0.isPrefilling && PrefixSharing.shouldWait(
                prompt: s.prompt, have: s.cached.count, earlierPrompt: $0.prompt) }) { continue }
            s.chunk = min(s.remainingPrompt, budget)
            budget -= s.chunk
            scheduled.append(s)
        }
        guard !scheduled.isEmpty else { return }
        scheduled.sort { $0.id < $1.id }
        batch.n_tokens = 0
        for s in scheduled {
            if let token = s.pending {
                s.output = (add(token, position: s.cached.count, sequence: s.id, logits: true), s.cached.count)
                continue
            }
            for p in s.cached.count..<(s.cached.count + s.chunk) {
                let last = p == s.prompt.count - 1
                let index = add(s.prompt[p], position: p, sequence: s.id, logits: last)
                if last { s.output = (index, p) }
            }
        }

        let decodeStart = monotonicMillis()
        let rc = llama_decode(ctx, batch)
        let decoded = monotonicMillis()
        stats.decodeCalls += 1
        stats.mostSequencesInOneDecode = max(stats.mostSequencesInOneDecode, scheduled.count)
        guard rc == 0 else {
            // Not expected (every sequence fits its own stream); fail only the sequences in this batch.
            for s in scheduled { s.end = .failure(.decodeFailed(rc)) }
            retireEnded()
            return
        }
        var promptTokens = 0
        for s in scheduled {
            if let token = s.pending {
                s.cached.append(token)
                s.pending = nil
                sampleNext(s)
            } else {
                promptTokens += s.chunk
                s.cached.append(contentsOf: s.prompt[s.cached.count..<(s.cached.count + s.chunk)])
                if s.remainingPrompt == 0 {
                    s.promptDoneAt = decoded
                    sampleNext(s)
                }
            }
        }
        stats.promptTokensEvaluated += promptTokens
        sharePrefixes()  // sequences waiting for an identical prompt take its logits before the donor can leave
        if promptTokens == 0 {
            // A step like llama-batched-bench's generation phase. Timed whole, sampling and bookkeeping included
            // (what a task waits between its tokens), and counted before the ended tasks resume.
            let millis = monotonicMillis() - start
            stats.generationSteps += 1
            stats.generationStepTokens += generating
            stats.generationStepMillis += millis
            stats.generationStepsBySize[generating, default: StepTotals()].steps += 1
            stats.generationStepsBySize[generating, default: StepTotals()].millis += millis
            stats.generationStepsBySize[generating, default: StepTotals()].decodeMillis += decoded - decodeStart
        }
        retireEnded()
    }

    /// Appends one token to the batch; returns its index there.
    private func add(_ token: Int32, position: Int, sequence: Int32, logits: Bool) -> Int32 {
        let i = Int(batch.n_tokens)
        batch.token[i] = token
        batch.pos[i] = Int32(position)
        batch.n_seq_id[i] = 1
        batch.seq_id[i]![0] = sequence
        batch.logits[i] = logits ? 1 : 0
        batch.n_tokens += 1
        return Int32(i)
    }

    // MARK: sampling

    /// Samples `s`'s next token from its logits in the last decode, or ends it (length, context, EOS, stop).
    private func sampleNext(_ s: BatchSequence) {
        let params = s.request.params
        if s.generated >= params.maxTokens { s.end = .success("length"); return }
        if s.prompt.count + s.generated >= contextLength { s.end = .success("context"); return }
        guard let output = s.output else { return }
        let (token, grammar) = s.request.sampler.sample(ctx, index: output.index, vocabularySize: vocabularySize)
        switch grammar {
        case .none: break
        case .checked: stats.grammarTokens += 1; stats.grammarTokensChecked += 1
        case .applied: stats.grammarTokens += 1
        }
        if model.isEndOfGeneration(token) && !params.ignoreEndOfGeneration { s.end = .success("eos"); return }
        s.generated += 1
        stats.generatedTokens += 1
        let stopped = s.text.append(model.piece(token))
        s.request.onToken?(s.generated)
        if stopped {
            s.end = .success("stop")
        } else if s.generated >= params.maxTokens {
            s.end = .success("length")  // its KV is not needed: no decode for the last token
        } else {
            s.pending = token
        }
    }

    // MARK: prefix sharing

    /// Copies, for each sequence still evaluating its prompt, the longest prefix of it that another sequence
    /// holds in the cache (intact: nothing evicted from a sliding window); when that sequence's last logits are
    /// for exactly this prompt, the copy is the whole prompt and the first token is sampled from them.
    private func sharePrefixes() {
        for reader in active where reader.isPrefilling && reader.end == nil {
            var best: (donor: BatchSequence, take: PrefixSharing.Take, length: Int)?
            for donor in active where donor !== reader && !donor.cached.isEmpty {
                let take = PrefixSharing.take(prompt: reader.prompt, have: reader.cached.count, donorCached: donor.cached,
                                              donorPrompt: donor.prompt, donorOutput: donor.output?.position)
                let length: Int
                switch take {
                case .nothing: continue
                case .whole: length = reader.prompt.count
                case .prefix(let upTo): length = upTo
                }
                if length > (best?.length ?? 0), llama_memory_seq_pos_min(memory, donor.id) == 0 {
                    best = (donor, take, length)
                }
            }
            guard let best else { continue }
            // The donor's whole cache (its stream), then the reader's own positions cut back to the shared prefix.
            copyCache(from: best.donor.id, to: reader.id)
            _ = llama_memory_seq_rm(memory, reader.id, Int32(best.length), -1)
            let gained = best.length - reader.cached.count
            reader.cached = Array(reader.prompt[..<best.length])
            reader.reused += gained
            stats.promptTokensReused += gained
            if best.take == .whole, let output = best.donor.output {
                reader.output = output
                reader.promptDoneAt = monotonicMillis()
                sampleNext(reader)
            }
        }
    }

    /// `llama_memory_seq_cp` across streams: llama.cpp copies the buffers at the start of the next decode.
    private func copyCache(from source: Int32, to destination: Int32) {
        llama_memory_seq_cp(memory, source, destination, -1, -1)
        stats.cacheCopies += 1
    }

    // MARK: leaving

    /// Frees the KV cells and sequence id of every sequence that ended, keeps the ids dense, then resumes the
    /// ended sequences' tasks.
    private func retireEnded() {
        guard active.contains(where: { $0.end != nil }) else { return }
        let now = monotonicMillis()
        var ended: [(BatchSequence, Result<String, LlamaError>)] = []
        active.removeAll { s in
            guard let end = s.end else { return false }
            llama_memory_seq_rm(memory, s.id, -1, -1)
            freeIDs.append(s.id)
            ended.append((s, end))
            return true
        }
        freeIDs.sort(by: >)
        compactIDs()
        stats.finished += ended.count
        publish()  // before resuming: a task that sees its result also sees its cache released
        for (s, end) in ended {
            switch end {
            case .success(let reason): s.request.finish(.success(s.generation(finishedAt: now, reason: reason)))
            case .failure(let error): s.request.finish(.failure(error))
            }
        }
    }

    /// Moves the highest-id sequences into the lowest free ids (one cache copy each, once per departure).
    private func compactIDs() {
        while let low = freeIDs.last, let high = active.max(by: { $0.id < $1.id }), high.id > low {
            freeIDs.removeLast()
            if !high.cached.isEmpty {
                copyCache(from: high.id, to: low)
                llama_memory_seq_rm(memory, high.id, -1, -1)
            }
            freeIDs.append(high.id)
            freeIDs.sort(by: >)
            high.id = low
        }
    }

    private func publish() {
        stats.running = active.count
        stats.waiting = waiting.count
        var holding = 0
        for id in 0..<Int32(llama_n_seq_max(ctx)) where llama_memory_seq_pos_max(memory, id) >= 0 { holding += 1 }
        stats.sequencesHoldingCache = holding
        inbox.publish(stats)
    }
}
