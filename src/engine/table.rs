//! [`Table`]: the world's per-entity vectors the hot path indexes (requests, replicas,
//! services' and clients' state, links, edges), without a bounds check on each index.
//!
//! Why: an M/M/1 customer passed about sixty bounds checks, a compare and a branch each; the
//! world's share of them is most of the 9.6% of its instructions they cost (BENCHMARKS.md,
//! run 21, which also gives the public types' share). The
//! checks never fail, because of two rules this type keeps and one its users keep:
//! - a table only grows: there is no way to remove an element, so an index that was valid
//!   once stays valid;
//! - an index is only ever made from a position the table itself handed out (`push` returns
//!   it) or from the spec the table was built from, which the world checks when it is built
//!   (`World::new` panics on a spec with an index out of range, never mid-run:
//!   `SystemSpec::check_indices`);
//! - users index with values of their own making only, never with a number read from input.
//!
//! The type is crate-private and lives only in private fields of the world's parts: a `Table`
//! reachable from outside (in `SystemSpec`, the recorder or the series, as it once was) would
//! let safe code outside the crate index out of range, which is unsound; those stay `Vec`s.
//!
//! Debug builds check every index, and so does the feature `checked-tables`, which CI turns
//! on for one pass of the whole test suite in release mode (`.ci/run`): the rule is held by
//! every test, not only by reading.
//!
//! It knows nothing of what it holds.

use std::ops::{Deref, DerefMut, Index, IndexMut};

/// A vector that only grows, indexed without bounds checks in release builds (see the module
/// comment for why that is sound here). Reads as a slice: `len`, `iter`, `get` all work.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table<T> {
    items: Vec<T>,
}

/// Whether indices are checked: in debug builds and under the `checked-tables` feature. The
/// engine's queue, the world's spec and the recorder's windows, which skip checks under the
/// same rule, read this one switch.
pub(crate) const CHECKED: bool = cfg!(any(debug_assertions, feature = "checked-tables"));

impl<T> Table<T> {
    pub fn with_capacity(n: usize) -> Self {
        Table {
            items: Vec::with_capacity(n),
        }
    }

    /// Appends `x`; returns its index.
    #[inline]
    pub fn push(&mut self, x: T) -> usize {
        self.items.push(x);
        self.items.len() - 1
    }

    #[inline(always)]
    fn check(&self, i: usize) {
        if CHECKED {
            assert!(
                i < self.items.len(),
                "table index {i} out of range (length {})",
                self.items.len()
            );
        }
    }
}

impl<T> From<Vec<T>> for Table<T> {
    fn from(items: Vec<T>) -> Self {
        Table { items }
    }
}

impl<T> FromIterator<T> for Table<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        Table {
            items: it.into_iter().collect(),
        }
    }
}

impl<T> Deref for Table<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> DerefMut for Table<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Table<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<T> Index<usize> for Table<T> {
    type Output = T;
    #[inline(always)]
    fn index(&self, i: usize) -> &T {
        self.check(i);
        // SAFETY: `i` is below the length (the module comment's rules; checked in debug
        // builds and under `checked-tables`), and a table never shrinks.
        unsafe { self.items.get_unchecked(i) }
    }
}

impl<T> IndexMut<usize> for Table<T> {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.check(i);
        // SAFETY: as in `index`.
        unsafe { self.items.get_unchecked_mut(i) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_the_vector_it_was_made_from() {
        let mut t: Table<u32> = vec![5, 6].into();
        assert_eq!(t.push(7), 2);
        t[0] += 1;
        assert_eq!((t[0], t[1], t[2], t.len()), (6, 6, 7, 3));
        assert_eq!(t.iter().sum::<u32>(), 19);
        assert_eq!(&*t, &[6, 6, 7]);
    }

    // Only where indices are checked: elsewhere an index out of range is not caught here.
    #[cfg(any(debug_assertions, feature = "checked-tables"))]
    #[test]
    #[should_panic(expected = "table index 3 out of range")]
    fn unit_tests_check_every_index() {
        let t: Table<u8> = vec![1, 2, 3].into();
        let _ = t[3];
    }
}
