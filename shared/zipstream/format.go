package zipstream

import (
	"encoding/binary"
	"strings"
	"time"
)

// The records of the format (PKWARE APPNOTE 6.3), laid out as Go's
// archive/zip writer lays them out; the constants carry its names.
const (
	fileHeaderSignature      = 0x04034b50
	directoryHeaderSignature = 0x02014b50
	directoryEndSignature    = 0x06054b50
	directory64LocSignature  = 0x07064b50
	directory64EndSignature  = 0x06064b50
	dataDescriptorSignature  = 0x08074b50 // de-facto standard; required by macOS

	fileHeaderLen       = 30 // + name + extra
	directoryHeaderLen  = 46 // + name + extra + comment
	directoryEndLen     = 22 // + comment
	dataDescriptorLen   = 16 // signature, CRC-32, two 32-bit sizes
	dataDescriptor64Len = 24 // signature, CRC-32, two 64-bit sizes
	directory64LocLen   = 20
	directory64EndLen   = 56

	zipVersion20 = 20 // 2.0: deflate, data descriptors
	zipVersion45 = 45 // 4.5: ZIP64

	zip64ExtraID   = 0x0001 // ZIP64 extended information
	extTimeExtraID = 0x5455 // extended timestamp (Info-ZIP)
	extTimeLen     = 9      // ID, size, flags, mtime

	flagDataDescriptor = 0x8
	flagUTF8           = 0x800

	uint16max = 1<<16 - 1
	uint32max = 1<<32 - 1
)

// le appends little-endian integers.
type le []byte

func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u64(v uint64) le { return binary.LittleEndian.AppendUint64(b, v) }

// flags returns the general-purpose flags of an entry: sizes in a data
// descriptor, and UTF-8 when the name needs it.
func flags(name string) uint16 {
	f := uint16(flagDataDescriptor)
	if requiresUTF8(name) {
		f |= flagUTF8
	}
	return f
}

// requiresUTF8 mirrors archive/zip's detectUTF8: the UTF-8 flag is set only
// when the name cannot be read as CP-437-compatible ASCII, so readers
// without UTF-8 support still read plain names. 0x5c and 0x7e are excluded
// because Shift-JIS and EUC-KR map them to other characters. Names are
// valid UTF-8 by the time they get here (checkName refuses the rest).
func requiresUTF8(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7d || r == 0x5c })
}

// dosTime returns the MS-DOS date and time fields of t, read on t's own
// clock as archive/zip does; zero for the zero time.
func dosTime(t time.Time) (date, clock uint16) {
	if t.IsZero() {
		return 0, 0
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	clock = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, clock
}

// extra returns the extra field shared by an entry's local and central
// headers: the extended timestamp with the modification time, as
// archive/zip (and Info-ZIP) write it, or nothing for the zero time.
func extra(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	b := le(make([]byte, 0, extTimeLen)).u16(extTimeExtraID).u16(5)
	b = append(b, 1) // flags: modification time only
	return b.u32(uint32(t.Unix()))
}

// localHeaderLen is the length of an entry's local header.
func localHeaderLen(name string, modified time.Time) int64 {
	return int64(fileHeaderLen + len(name) + len(extra(modified)))
}

// localHeader returns the local file header of an entry whose sizes and
// CRC follow its data in a data descriptor (flag bit 3), so all three are
// zero here. Like archive/zip it never carries a ZIP64 extra field: whether
// the entry needs one is not known yet.
func localHeader(e EntryInfo) []byte {
	date, clock := dosTime(e.Modified)
	ex := extra(e.Modified)
	b := le(make([]byte, 0, fileHeaderLen+len(e.Name)+len(ex))).
		u32(fileHeaderSignature).
		u16(zipVersion20).
		u16(flags(e.Name)).
		u16(e.Method).
		u16(clock).
		u16(date).
		u32(0). // CRC-32
		u32(0). // compressed size
		u32(0). // uncompressed size
		u16(uint16(len(e.Name))).
		u16(uint16(len(ex)))
	b = append(b, e.Name...)
	return append(b, ex...)
}

// sizes64 reports whether an entry's sizes need ZIP64 (archive/zip's
// FileHeader.isZip64).
func sizes64(e EntryInfo, limit uint64) bool {
	return uint64(e.CompressedSize) >= limit || uint64(e.Size) >= limit
}

// dataDescriptorSize is the length of an entry's data descriptor.
func dataDescriptorSize(e EntryInfo, limit uint64) int64 {
	if sizes64(e, limit) {
		return dataDescriptor64Len
	}
	return dataDescriptorLen
}

// dataDescriptor returns the record that follows an entry's data: 64-bit
// sizes when either size needs them (without a ZIP64 extra in the local
// header, which is written before anyone knows: what archive/zip and
// Info-ZIP's zip do).
func dataDescriptor(e EntryInfo, limit uint64) []byte {
	b := le(make([]byte, 0, dataDescriptor64Len)).u32(dataDescriptorSignature).u32(e.CRC32)
	if sizes64(e, limit) {
		return b.u64(uint64(e.CompressedSize)).u64(uint64(e.Size))
	}
	return b.u32(uint32(e.CompressedSize)).u32(uint32(e.Size))
}

// centralHeader returns an entry's central-directory record. When a size or
// the header offset needs ZIP64, all three 32-bit fields hold 0xFFFFFFFF and
// a ZIP64 extra field after the timestamp carries the real values, as
// archive/zip writes them; such records also say version 4.5 is needed
// (archive/zip says so only for large sizes, APPNOTE 4.4.3.2 for any ZIP64
// field).
func centralHeader(e EntryInfo, limit uint64) []byte {
	date, clock := dosTime(e.Modified)
	ex := extra(e.Modified)
	need64 := sizes64(e, limit) || uint64(e.Offset) >= limit
	version := uint16(zipVersion20)
	csize, size, offset := uint32(e.CompressedSize), uint32(e.Size), uint32(e.Offset)
	if need64 {
		version = zipVersion45
		csize, size, offset = uint32max, uint32max, uint32max
		ex = le(ex).u16(zip64ExtraID).u16(24).
			u64(uint64(e.Size)).u64(uint64(e.CompressedSize)).u64(uint64(e.Offset))
	}
	b := le(make([]byte, 0, directoryHeaderLen+len(e.Name)+len(ex))).
		u32(directoryHeaderSignature).
		u16(zipVersion20). // made by: MS-DOS, 2.0 (archive/zip's Create)
		u16(version).
		u16(flags(e.Name)).
		u16(e.Method).
		u16(clock).
		u16(date).
		u32(e.CRC32).
		u32(csize).
		u32(size).
		u16(uint16(len(e.Name))).
		u16(uint16(len(ex))).
		u16(0). // comment length
		u16(0). // disk number start
		u16(0). // internal attributes
		u32(0). // external attributes
		u32(offset)
	b = append(b, e.Name...)
	return append(b, ex...)
}

// directoryEnd returns the records after the central directory, which
// holds records entries and runs from start to end: the end-of-central-
// directory record, preceded by the ZIP64 end record and its locator when
// the count, the directory's size or its offset need them (then the 16- and
// 32-bit fields hold their maximum, as archive/zip writes them).
func directoryEnd(records int, start, end int64, limit uint64) []byte {
	n, size, offset := uint64(records), uint64(end-start), uint64(start)
	b := le(make([]byte, 0, directory64EndLen+directory64LocLen+directoryEndLen))
	if n >= uint16max || size >= limit || offset >= limit {
		b = b.u32(directory64EndSignature).
			u64(directory64EndLen - 12). // size of the rest of the record
			u16(zipVersion45).           // made by
			u16(zipVersion45).           // needed
			u32(0).                      // this disk
			u32(0).                      // disk of the central directory
			u64(n).                      // entries on this disk
			u64(n).                      // entries
			u64(size).
			u64(offset).
			u32(directory64LocSignature).
			u32(0).           // disk of the ZIP64 end record
			u64(uint64(end)). // offset of the ZIP64 end record
			u32(1)            // disks
		n, size, offset = uint16max, uint32max, uint32max
	}
	return b.u32(directoryEndSignature).
		u16(0). // this disk
		u16(0). // disk of the central directory
		u16(uint16(n)).
		u16(uint16(n)).
		u32(uint32(size)).
		u32(uint32(offset)).
		u16(0) // comment length
}
