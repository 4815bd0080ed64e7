// Copyright 2016 The Snappy-Go Authors. All rights reserved.
// Copyright (c) 2019 Klaus Post. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package s2dict encodes small S2 blocks with a dictionary, for documents of
// a few KiB such as a stored session.
//
// The encoder is the "better" dictionary encoder of
// github.com/klauspost/compress/s2 (encodeBlockBetterDict), with hash tables
// sized for small blocks. The library's tables are sized for blocks of up to
// 4 MiB: every call clears 576 KiB of them and looks up a 288 KiB dictionary
// table: for a 1.5 KiB session that is most of the encoding's time (14 µs of
// CPU against 6 µs here), and it evicts the rest of the turn from the CPU's
// caches. Here the block's
// tables take 20 KiB and the dictionary's 20 KiB more. The output is an
// ordinary S2 block that s2.Dict.Decode reads; it can be a few bytes longer
// than the library's (hash collisions in the smaller tables).
package s2dict

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
)

const (
	// MaxInput is the largest block Encode compresses with the small
	// tables; longer blocks go to the library's encoder, whose tables
	// suit them and whose fixed cost is small beside theirs.
	MaxInput = 16 << 10

	lTableBits = 13 // long (7-byte) hash matches
	sTableBits = 11 // short (4-byte) hash matches

	inputMargin            = 8  // bytes kept after the last match start
	minNonLiteralBlockSize = 32 // shorter blocks are stored as one literal
	maxAhead               = 8  // bytes ahead read without checking sLimit

	tagLiteral = 0x00
	tagCopy1   = 0x01
	tagCopy2   = 0x02
)

type tables struct {
	l [1 << lTableBits]uint16
	s [1 << sTableBits]uint16
}

// Encoder encodes blocks with one dictionary. It is safe for concurrent use.
type Encoder struct {
	lib    *s2.Dict
	small  bool   // the dictionary leaves copy offsets below 64 KiB
	dict   []byte // the dictionary's bytes
	repeat int    // the dictionary's initial repeat offset, as an index into dict
	tables        // the dictionary's positions, hashed as the block's are
	pool   sync.Pool
}

// New returns an encoder for d. Blocks it encodes decode with d.Decode.
func New(d *s2.Dict) *Encoder {
	ser := d.Bytes()
	r, n := binary.Uvarint(ser)
	e := &Encoder{lib: d, dict: ser[n:], repeat: int(r)}
	// Offsets into the dictionary count back from the end of the block,
	// and the tables hold 16-bit positions.
	e.small = len(e.dict)+MaxInput < 1<<16
	e.pool.New = func() any { return new(tables) }
	// Index every position from which 8 bytes can be read, as the library
	// does for its dictionary tables.
	for i := 0; i < len(e.dict)-8; i++ {
		cv := load64(e.dict, i)
		e.l[hash7(cv, lTableBits)] = uint16(i)
		e.s[hash4(cv, sTableBits)] = uint16(i)
	}
	return e
}

// Encode returns the S2 block of src, as s2.Dict.EncodeBetter does: a
// sub-slice of dst if dst is at least s2.MaxEncodedLen(len(src)) long,
// otherwise a new slice.
func (e *Encoder) Encode(dst, src []byte) []byte {
	if len(src) > MaxInput || !e.small {
		return e.lib.EncodeBetter(dst, src)
	}
	if n := s2.MaxEncodedLen(len(src)); len(dst) < n {
		dst = make([]byte, n)
	}
	d := binary.PutUvarint(dst, uint64(len(src)))
	if len(src) == 0 {
		return dst[:d]
	}
	if len(src) < minNonLiteralBlockSize {
		d += emitLiteral(dst[d:], src)
		return dst[:d]
	}
	t := e.pool.Get().(*tables)
	*t = tables{}
	n := e.encodeBlock(dst[d:], src, t)
	e.pool.Put(t)
	if n > 0 {
		return dst[:d+n]
	}
	// Not compressible.
	d += emitLiteral(dst[d:], src)
	return dst[:d]
}

// encodeBlock is the library's encodeBlockBetterDict for a block shorter
// than MaxDictSrcOffset, where its second loop (past the dictionary's
// reach) never runs. It returns 0 when the block does not compress.
func (e *Encoder) encodeBlock(dst, src []byte, t *tables) (d int) {
	lTable, sTable := &t.l, &t.s
	dict := e.dict
	sLimit := min(len(src)-inputMargin, s2.MaxDictSrcOffset-maxAhead)

	// Bail if we can't compress to at least this.
	dstLimit := len(src) - len(src)>>5 - 6

	// nextEmit is where in src the next emitLiteral should start from.
	nextEmit := 0
	s := 0
	cv := load64(src, s)

	// The repeat offset starts at the dictionary's repeat.
	repeat := len(dict) - e.repeat

	for {
		candidateL := 0
		nextS := 0
		for {
			nextS = s + (s-nextEmit)>>7 + 1
			if nextS > sLimit {
				goto emitRemainder
			}
			hashL := hash7(cv, lTableBits)
			hashS := hash4(cv, sTableBits)
			candidateL = int(lTable[hashL])
			candidateS := int(sTable[hashS])
			dictL := int(e.l[hashL])
			dictS := int(e.s[hashS])
			lTable[hashL] = uint16(s)
			sTable[hashS] = uint16(s)

			valLong := load64(src, candidateL)
			valShort := load64(src, candidateS)

			// If long matches at least 8 bytes, use that.
			if s != 0 {
				if cv == valLong {
					goto emitMatch
				}
				if cv == valShort {
					candidateL = candidateS
					goto emitMatch
				}
			}

			// Check the repeat offset into the dictionary.
			if repeat >= s+4 {
				candidate := len(dict) - repeat + s
				if candidate > 0 && uint32(cv) == load32(dict, candidate) {
					// Extend back.
					base := s
					for i := candidate; base > nextEmit && i > 0 && dict[i-1] == src[base-1]; {
						i--
						base--
					}
					d += emitLiteral(dst[d:], src[nextEmit:base])
					s += 4
					candidate += 4
					for candidate < len(dict)-8 && s <= len(src)-8 {
						if diff := load64(src, s) ^ load64(dict, candidate); diff != 0 {
							s += bits.TrailingZeros64(diff) >> 3
							break
						}
						s += 8
						candidate += 8
					}
					d += emitRepeat(dst[d:], repeat, s-base)
					nextEmit = s
					if s >= sLimit {
						goto emitRemainder
					}
					// Index in between.
					index0 := base + 1
					index1 := s - 2
					cv = load64(src, s)
					for index0 < index1 {
						t.index(src, index0, index1)
						index0 += 2
						index1 -= 2
					}
					continue
				}
			}
			// Don't try to find a match at s == 0.
			if s == 0 {
				cv = load64(src, nextS)
				s = nextS
				continue
			}

			// A long candidate likely matches 7 bytes: take it.
			if uint32(cv) == uint32(valLong) {
				goto emitMatch
			}
			// The dictionary's long candidate.
			if uint32(cv) == load32(dict, dictL) {
				candidateL = dictL
				goto emitDict
			}
			// The short candidate.
			if uint32(cv) == uint32(valShort) {
				// Try a long candidate at s+1.
				hashL = hash7(cv>>8, lTableBits)
				candidateL = int(lTable[hashL])
				lTable[hashL] = uint16(s + 1)
				if uint32(cv>>8) == load32(src, candidateL) {
					s++
					goto emitMatch
				}
				candidateL = candidateS
				goto emitMatch
			}
			// The dictionary's short candidate.
			if uint32(cv) == load32(dict, dictS) {
				// Try a long candidate at s+1.
				hashL = hash7(cv>>8, lTableBits)
				candidateL = int(lTable[hashL])
				lTable[hashL] = uint16(s + 1)
				if uint32(cv>>8) == load32(src, candidateL) {
					s++
					goto emitMatch
				}
				candidateL = dictS
				goto emitDict
			}
			cv = load64(src, nextS)
			s = nextS
		}

	emitDict:
		{
			// Extend backwards.
			for candidateL > 0 && s > nextEmit && dict[candidateL-1] == src[s-1] {
				candidateL--
				s--
			}
			// Bail if we exceed the maximum size.
			if d+(s-nextEmit) > dstLimit {
				return 0
			}
			d += emitLiteral(dst[d:], src[nextEmit:s])

			base := s
			offset := s + len(dict) - candidateL
			// Extend the 4-byte match as far as possible.
			s += 4
			candidateL += 4
			for s <= len(src)-8 && len(dict)-candidateL >= 8 {
				if diff := load64(src, s) ^ load64(dict, candidateL); diff != 0 {
					s += bits.TrailingZeros64(diff) >> 3
					break
				}
				s += 8
				candidateL += 8
			}
			if repeat == offset {
				d += emitRepeat(dst[d:], offset, s-base)
			} else {
				// Matches longer than 64 are split, so that no copy starts
				// inside the next block.
				if s <= sLimit || s-base < 8 {
					d += emitCopy(dst[d:], offset, s-base)
				} else {
					d += emitCopy(dst[d:], offset, 4)
					d += emitRepeat(dst[d:], offset, s-base-4)
				}
				repeat = offset
			}
			nextEmit = s
			if s >= sLimit {
				goto emitRemainder
			}
			if d > dstLimit {
				return 0
			}
			// Index short and long.
			index0, index1 := base+1, s-2
			t.index(src, index0, index1)
			index0++
			index1--
			cv = load64(src, s)
			// Index every second long in between.
			for index0 < index1 {
				lTable[hash7(load64(src, index0), lTableBits)] = uint16(index0)
				lTable[hash7(load64(src, index1), lTableBits)] = uint16(index1)
				index0 += 2
				index1 -= 2
			}
			continue
		}

	emitMatch:
		// Extend backwards.
		for candidateL > 0 && s > nextEmit && src[candidateL-1] == src[s-1] {
			candidateL--
			s--
		}
		// Bail if we exceed the maximum size.
		if d+(s-nextEmit) > dstLimit {
			return 0
		}
		{
			base := s
			offset := base - candidateL
			// Extend the 4-byte match as far as possible.
			s += 4
			candidateL += 4
			for s < len(src) {
				if len(src)-s < 8 {
					if src[s] == src[candidateL] {
						s++
						candidateL++
						continue
					}
					break
				}
				if diff := load64(src, s) ^ load64(src, candidateL); diff != 0 {
					s += bits.TrailingZeros64(diff) >> 3
					break
				}
				s += 8
				candidateL += 8
			}
			d += emitLiteral(dst[d:], src[nextEmit:base])
			if repeat == offset {
				d += emitRepeat(dst[d:], offset, s-base)
			} else {
				d += emitCopy(dst[d:], offset, s-base)
				repeat = offset
			}
			nextEmit = s
			if s >= sLimit {
				goto emitRemainder
			}
			if d > dstLimit {
				return 0
			}
			// Index short and long.
			index0, index1 := base+1, s-2
			t.index(src, index0, index1)
			index0++
			index1--
			cv = load64(src, s)
			// Index large values sparsely in between, from two starts.
			index2 := (index0 + index1 + 1) >> 1
			for index2 < index1 {
				lTable[hash7(load64(src, index0), lTableBits)] = uint16(index0)
				lTable[hash7(load64(src, index2), lTableBits)] = uint16(index2)
				index0 += 2
				index2 += 2
			}
		}
	}

emitRemainder:
	if nextEmit < len(src) {
		if d+len(src)-nextEmit > dstLimit {
			return 0
		}
		d += emitLiteral(dst[d:], src[nextEmit:])
	}
	return d
}

// index enters positions i and j of src in both tables: the long table at
// the position, the short one a byte after it.
func (t *tables) index(src []byte, i, j int) {
	cv0, cv1 := load64(src, i), load64(src, j)
	t.l[hash7(cv0, lTableBits)] = uint16(i)
	t.s[hash4(cv0>>8, sTableBits)] = uint16(i + 1)
	t.l[hash7(cv1, lTableBits)] = uint16(j)
	t.s[hash4(cv1>>8, sTableBits)] = uint16(j + 1)
}

func load32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }

// hash4 hashes the lowest 4 bytes of u to h bits.
func hash4(u uint64, h uint8) uint32 {
	const prime4bytes = 2654435761
	return (uint32(u) * prime4bytes) >> ((32 - h) & 31)
}

// hash7 hashes the lowest 7 bytes of u to h bits.
func hash7(u uint64, h uint8) uint32 {
	const prime7bytes = 58295818150454627
	return uint32(((u << (64 - 56)) * prime7bytes) >> ((64 - h) & 63))
}

// emitLiteral writes a literal chunk and returns the number of bytes
// written. len(lit) < 1<<16, as every block here is.
func emitLiteral(dst, lit []byte) int {
	if len(lit) == 0 {
		return 0
	}
	i, n := 0, uint(len(lit)-1)
	switch {
	case n < 60:
		dst[0] = uint8(n)<<2 | tagLiteral
		i = 1
	case n < 1<<8:
		dst[1] = uint8(n)
		dst[0] = 60<<2 | tagLiteral
		i = 2
	default:
		dst[2] = uint8(n >> 8)
		dst[1] = uint8(n)
		dst[0] = 61<<2 | tagLiteral
		i = 3
	}
	return i + copy(dst[i:], lit)
}

// emitRepeat writes a repeat chunk (a copy at the last offset) and returns
// the number of bytes written. 4 <= length < 1<<16 + 1<<8.
func emitRepeat(dst []byte, offset, length int) int {
	length -= 4
	if length <= 4 {
		dst[0] = uint8(length)<<2 | tagCopy1
		dst[1] = 0
		return 2
	}
	if length < 8 && offset < 2048 {
		// With the offset.
		dst[1] = uint8(offset)
		dst[0] = uint8(offset>>8)<<5 | uint8(length)<<2 | tagCopy1
		return 2
	}
	if length < (1<<8)+4 {
		length -= 4
		dst[2] = uint8(length)
		dst[1] = 0
		dst[0] = 5<<2 | tagCopy1
		return 3
	}
	length -= 1 << 8
	dst[3] = uint8(length >> 8)
	dst[2] = uint8(length >> 0)
	dst[1] = 0
	dst[0] = 6<<2 | tagCopy1
	return 4
}

// emitCopy writes a copy chunk and returns the number of bytes written.
// 1 <= offset < 65536 and 4 <= length < 1<<16.
func emitCopy(dst []byte, offset, length int) int {
	if length > 64 {
		off := 3
		if offset < 2048 {
			// 8 bytes as tagCopy1, the rest as repeats.
			dst[1] = uint8(offset)
			dst[0] = uint8(offset>>8)<<5 | uint8(8-4)<<2 | tagCopy1
			length -= 8
			off = 2
		} else {
			// 60 bytes as tagCopy2, the rest (at least 4) as repeats.
			dst[2] = uint8(offset >> 8)
			dst[1] = uint8(offset)
			dst[0] = 59<<2 | tagCopy2
			length -= 60
		}
		return off + emitRepeat(dst[off:], offset, length)
	}
	if length >= 12 || offset >= 2048 {
		dst[2] = uint8(offset >> 8)
		dst[1] = uint8(offset)
		dst[0] = uint8(length-1)<<2 | tagCopy2
		return 3
	}
	dst[1] = uint8(offset)
	dst[0] = uint8(offset>>8)<<5 | uint8(length-4)<<2 | tagCopy1
	return 2
}
