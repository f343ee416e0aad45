"""Models and constructs: sequences, threading, mutations, isoforms, denosumab Fab, FFT docking.

Everything built here is a model and says so in its provenance."""
