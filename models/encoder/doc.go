// Package encoder runs BERT-family encoders from Hugging Face model
// directories on GoMLX.
package encoder
