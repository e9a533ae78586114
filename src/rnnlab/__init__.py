"""rnnlab: a reproducible laboratory for recurrent neural networks in PyTorch.

Shape legend used in every shape comment of this package — one meaning per letter (a lower-case
letter is not its capital); a file may name the letters it uses, always in these meanings:

    B  batch (sequences, dialogues, examples)       T  time steps of a sequence (its padded length)
    D  input features per step                       H  hidden units of a cell
    G  gate width (4H for an LSTM, 3H for a GRU)     S  layers of a stack
    K  directions (1 or 2)                           E  an encoder's output size per step (attention's key size)
    C  classes / outputs of a head                   V  vocabulary
    L  a decoder's output steps (L' the steps a greedy decoding wrote)
    N  items of a flat collection: sequences, or the real steps gathered from a batch
    W  a forecast's window (steps read per example)  P  parties of a dialogue
    b  bits per answer step                          s  a dilation rate
    t  the current step (a history before it)        U  steps per compiled block
    Q  attention's query size                        A  attention size
    I  NTM memory rows       M  NTM memory width     F  NTM heads of one kind (read or write)
    R  table rows            J  table columns        O  question words        (Neural Programmer)
    X  global, Y  party, Z  emotion state sizes                                (DialogueRNN)

Products and sums are written out: (S·K, B, H), (B, T, K·H), (B, P, D + Y); a number or a
parameter's name stands for a fixed size: (B, 8) over the programmer's operations.
"""
